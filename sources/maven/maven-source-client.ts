import {
  D7yError, type DownloadRequest, type ListRequest, type SourceClient, type SourceDownload, type SourceEntry,
  type SourceRequest, type SourceStat, abortableStream, DigestVerifier, RepoHttp, safeUrl, type RepoCredentials } from '../../core/index.js';
import { parseMavenMetadata } from './maven-metadata.js';
import { baseVersion, describeMaven, formatMavenUrl, parseMavenUrl, type MavenUrl } from './maven-url.js';

export interface MavenRepository {
  url: string;
  username?: string;
  password?: string;
}

export interface MavenSourceOptions {
  /** Repositories tried in order when a URL has no `?repo=`. */
  repositories?: MavenRepository[];
  timeoutMs?: number;
}

/** A file of a resolved version: where it is and how to check it. */
interface ResolvedFile {
  url: string;
  fileName: string;
  /** The strongest checksum published beside the file. */
  checksum?: string;
  /** The sha256 checksum when one is published. */
  sha256?: string;
}

const CHECKSUMS = ['sha512', 'sha256', 'sha1'] as const;
const SKIP = /\.(md5|sha1|sha256|sha512|asc)$|^maven-metadata/;

/**
 * The `maven` source: files of Maven repositories by coordinates (grammar in
 * sources/maven/README.md). SNAPSHOT versions resolve to their latest timestamped build and
 * LATEST/RELEASE through the artifact's maven-metadata.xml. Full downloads are verified against
 * the strongest checksum file published beside the file (.sha512, .sha256, .sha1).
 */
export class MavenSourceClient implements SourceClient {
  readonly schemes = ['maven'] as const;
  private readonly http: RepoHttp;
  private readonly repositories: MavenRepository[];

  constructor(options: MavenSourceOptions = {}) {
    this.repositories = (options.repositories ?? []).map((r) => ({ ...r, url: r.url.replace(/\/+$/, '') }));
    const creds: RepoCredentials[] = this.repositories.filter((r) => r.username !== undefined)
      .map((r) => ({ url: r.url, username: r.username!, password: r.password ?? '' }));
    this.http = new RepoHttp(creds, options.timeoutMs ?? 30_000);
  }

  async stat(req: SourceRequest): Promise<SourceStat> {
    return this.inRepos(req, async (c, repo) => {
      const file = await this.resolveFile(c, repo, req.signal);
      const res = await this.http.get({ url: file.url, method: 'HEAD', what: `file ${file.fileName}`, signal: req.signal });
      await res.body.dump();
      const length = Number(res.headers['content-length']);
      return {
        url: req.url, contentLength: Number.isFinite(length) ? length : undefined, supportsRange: true,
        etag: str(res.headers.etag), lastModified: str(res.headers['last-modified']), digest: file.sha256,
      };
    });
  }

  async download(req: DownloadRequest): Promise<SourceDownload> {
    return this.inRepos(req, async (c, repo) => {
      const file = await this.resolveFile(c, repo, req.signal);
      const what = `file ${file.fileName}`;
      const res = await this.http.get({ url: file.url, what, range: req.range, signal: req.signal });
      const length = Number(res.headers['content-length']);
      const contentLength = Number.isFinite(length) ? length : undefined;
      const verifier = !req.range && file.checksum ? new DigestVerifier(file.checksum, `${what} (${safeUrl(file.url)})`, contentLength) : undefined;
      return { stream: abortableStream(res.body, verifier, req.signal, what), contentLength };
    });
  }

  /**
   * `maven://g:a` lists the versions (as directories; with `recursive`, their files below
   * `<version>/`). `maven://g:a:v` lists the files of that version.
   */
  async *list(req: ListRequest): AsyncIterable<SourceEntry> {
    const c = parseMavenUrl(req.url);
    const repo = await this.inRepos(req, async (coords, r) => {
      if (!coords.version) await this.artifactMetadata(coords, r, req.signal);
      return r;
    });
    if (c.version) {
      for await (const e of this.versionFiles(c, repo, req.signal)) yield e;
      return;
    }
    const meta = await this.artifactMetadata(c, repo, req.signal);
    for (const version of meta.versions) {
      const vc = { ...c, version, repo: c.repo };
      yield { url: formatMavenUrl(vc), path: version, isDirectory: true };
      if (req.recursive) for await (const e of this.versionFiles(vc, repo, req.signal)) yield { ...e, path: `${version}/${e.path}` };
    }
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  /** Runs `fn` against each candidate repository in turn until one has the object. */
  private async inRepos<T>(req: SourceRequest, fn: (c: MavenUrl, repo: string) => Promise<T>): Promise<T> {
    const c = parseMavenUrl(req.url);
    const repos = c.repo ? [c.repo] : this.repositories.map((r) => r.url);
    if (repos.length === 0) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `no Maven repository for ${describeMaven(c)}`, { fix: 'add ?repo=<repository URL> to the URL or set "repositories" in the maven plugin config' });
    }
    let last: unknown;
    for (const repo of repos) {
      try {
        return await fn(c, repo);
      } catch (err) {
        if (!(err instanceof D7yError) || err.code !== 'D7Y_SOURCE_NOT_FOUND') throw err;
        last = err;
      }
    }
    if (repos.length === 1) throw last;
    throw new D7yError('D7Y_SOURCE_NOT_FOUND', `${describeMaven(c)} not found in any of ${repos.length} repositories (${(last as Error).message})`, {
      fix: 'check the coordinates and the repositories', cause: last,
    });
  }

  private async resolveFile(c: MavenUrl, repo: string, signal?: AbortSignal): Promise<ResolvedFile> {
    if (!c.version) throw new D7yError('D7Y_INVALID_ARGUMENT', `maven://${describeMaven(c)} names an artifact, not a file`, { fix: 'add a version (maven://g:a:1.0) or list the artifact' });
    let version = c.version;
    if (version === 'LATEST' || version === 'RELEASE') {
      const meta = await this.artifactMetadata(c, repo, signal);
      const pick = version === 'LATEST' ? meta.latest ?? meta.versions.at(-1) : meta.release ?? meta.versions.filter((v) => !v.endsWith('-SNAPSHOT')).at(-1);
      if (!pick) throw new D7yError('D7Y_SOURCE_NOT_FOUND', `${describeMaven(c)}: the artifact's maven-metadata.xml names no ${version} version`, { fix: 'name a version explicitly' });
      version = pick;
    }
    const dir = baseVersion(version);
    let fileVersion = version;
    if (version.endsWith('-SNAPSHOT')) fileVersion = await this.snapshotVersion({ ...c, version }, repo, signal);
    const fileName = `${c.artifactId}-${fileVersion}${c.classifier ? `-${c.classifier}` : ''}.${c.extension}`;
    const url = `${repo}/${c.groupId.replace(/\./g, '/')}/${c.artifactId}/${dir}/${fileName}`;
    const sums = await Promise.all(CHECKSUMS.map((alg) => this.http.text({ url: `${url}.${alg}`, what: `checksum ${fileName}.${alg}`, signal, optional: true, maxBytes: 4096 })));
    const found = CHECKSUMS.map((alg, i) => ({ alg, hex: /^\s*([a-fA-F0-9]+)/.exec(sums[i] ?? '')?.[1]?.toLowerCase() }));
    const strongest = found.find((f) => f.hex);
    const sha256 = found.find((f) => f.alg === 'sha256')?.hex;
    return { url, fileName, checksum: strongest ? `${strongest.alg}:${strongest.hex}` : undefined, sha256: sha256 ? `sha256:${sha256}` : undefined };
  }

  /** The latest timestamped file version of a SNAPSHOT for the URL's classifier and extension. */
  private async snapshotVersion(c: MavenUrl, repo: string, signal?: AbortSignal): Promise<string> {
    const url = `${repo}/${c.groupId.replace(/\./g, '/')}/${c.artifactId}/${c.version}/maven-metadata.xml`;
    const xml = await this.http.text({ url, what: `version metadata of ${describeMaven(c)}`, signal, maxBytes: 4 * 1024 * 1024, optional: true });
    if (xml === undefined) return c.version!;
    const meta = parseMavenMetadata(xml, `maven-metadata.xml of ${describeMaven(c)}`);
    const hit = meta.snapshotVersions.find((s) => s.extension === c.extension && (s.classifier ?? '') === (c.classifier ?? ''));
    if (hit) return hit.value;
    if (meta.snapshot) return c.version!.replace(/-SNAPSHOT$/, `-${meta.snapshot.timestamp}-${meta.snapshot.buildNumber}`);
    return c.version!;
  }

  private async artifactMetadata(c: MavenUrl, repo: string, signal?: AbortSignal) {
    const url = `${repo}/${c.groupId.replace(/\./g, '/')}/${c.artifactId}/maven-metadata.xml`;
    const xml = await this.http.text({ url, what: `artifact ${c.groupId}:${c.artifactId} (maven-metadata.xml)`, signal, maxBytes: 16 * 1024 * 1024 });
    return parseMavenMetadata(xml!, `maven-metadata.xml of ${c.groupId}:${c.artifactId}`);
  }

  /** Files of one version: from a SNAPSHOT's metadata, an HTML directory index, or the pom and jar. */
  private async *versionFiles(c: MavenUrl, repo: string, signal?: AbortSignal): AsyncIterable<SourceEntry> {
    const version = c.version!;
    const dirUrl = `${repo}/${c.groupId.replace(/\./g, '/')}/${c.artifactId}/${baseVersion(version)}/`;
    let files: { classifier?: string; extension: string; fileVersion: string }[] = [];
    if (version.endsWith('-SNAPSHOT')) {
      const xml = await this.http.text({ url: `${dirUrl}maven-metadata.xml`, what: `version metadata of ${describeMaven(c)}`, signal, optional: true });
      if (xml) files = parseMavenMetadata(xml, `maven-metadata.xml of ${describeMaven(c)}`).snapshotVersions.map((s) => ({ ...s, fileVersion: s.value }));
    }
    if (files.length === 0) {
      const html = await this.http.text({ url: dirUrl, what: `directory of ${describeMaven(c)}`, signal, optional: true, maxBytes: 4 * 1024 * 1024 }).catch(() => undefined);
      const prefix = `${c.artifactId}-${version}`;
      for (const m of html?.matchAll(/href="(?:[^"]*\/)?([^"/?#]+)"/g) ?? []) {
        const name = decodeURIComponent(m[1]!);
        if (!name.startsWith(prefix) || SKIP.test(name)) continue;
        const rest = name.slice(prefix.length);
        const mm = /^(?:-([^.]+))?\.(.+)$/.exec(rest);
        if (mm) files.push({ classifier: mm[1], extension: mm[2]!, fileVersion: version });
      }
    }
    if (files.length === 0) files = [{ extension: 'pom', fileVersion: version }, { extension: 'jar', fileVersion: version }];
    const seen = new Set<string>();
    for (const f of files) {
      const fc: MavenUrl = { ...c, version: f.fileVersion, classifier: f.classifier, extension: f.extension };
      const fileName = `${c.artifactId}-${f.fileVersion}${f.classifier ? `-${f.classifier}` : ''}.${f.extension}`;
      if (seen.has(fileName)) continue;
      seen.add(fileName);
      const head = await this.http.get({ url: `${dirUrl}${fileName}`, method: 'HEAD', what: `file ${fileName}`, signal }).catch((err: unknown) => {
        if (err instanceof D7yError && err.code === 'D7Y_SOURCE_NOT_FOUND') return undefined;
        throw err;
      });
      if (!head) continue;
      await head.body.dump();
      const length = Number(head.headers['content-length']);
      yield { url: formatMavenUrl(fc), path: fileName, isDirectory: false, contentLength: Number.isFinite(length) ? length : undefined };
    }
  }
}

function str(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
