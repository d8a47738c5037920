import { createHash } from 'node:crypto';
import {
  D7yError, type DownloadRequest, type ListRequest, type SourceClient, type SourceDownload, type SourceEntry,
  type SourceRequest, type SourceStat, abortableStream, DigestVerifier, RepoHttp, safeUrl, type RepoCredentials } from '../../core/index.js';
import { YumMetadata, type YumPackage } from './yum-metadata.js';
import { hostArches, matchPackage } from './yum-package-match.js';
import { parseYumUrl, yumFileUrl, yumPackageUrl, type YumUrl } from './yum-url.js';

export interface YumSourceOptions {
  /** Basic credentials for repositories under each `url` (`http(s)://host/path`). */
  credentials?: RepoCredentials[];
  /** Preferred architectures, best first (default: the host's, then noarch). */
  arches?: string[];
  timeoutMs?: number;
  /** Largest primary metadata accepted, compressed and uncompressed. */
  maxMetadataBytes?: number;
}

/**
 * The `yum` source: packages of YUM/DNF repositories (grammar in sources/yum/README.md), found
 * through repodata/repomd.xml and the primary metadata; full downloads are verified against the
 * package checksum the metadata publishes.
 */
export class YumSourceClient implements SourceClient {
  readonly schemes = ['yum'] as const;
  private readonly http: RepoHttp;
  private readonly metadata: YumMetadata;
  private readonly arches: string[];

  constructor(options: YumSourceOptions = {}) {
    this.http = new RepoHttp(options.credentials ?? [], options.timeoutMs ?? 30_000);
    this.metadata = new YumMetadata(this.http, options.maxMetadataBytes ?? 256 * 1024 * 1024);
    this.arches = options.arches ?? hostArches();
  }

  async stat(req: SourceRequest): Promise<SourceStat> {
    const repo = parseYumUrl(req.url);
    if (repo.file) {
      const res = await this.http.get({ url: `${repo.base}/${repo.file}`, method: 'HEAD', what: `file ${repo.file} of ${repo.base}`, signal: req.signal });
      await res.body.dump();
      const length = Number(res.headers['content-length']);
      return { url: req.url, contentLength: Number.isFinite(length) ? length : undefined, supportsRange: true, digest: repo.checksum?.startsWith('sha256:') ? repo.checksum : undefined };
    }
    const { pkg, url } = await this.resolve(req);
    const res = await this.http.get({ url, method: 'HEAD', what: `package ${pkg.nevra}`, signal: req.signal });
    await res.body.dump();
    const length = Number(res.headers['content-length']);
    return {
      url: req.url, contentLength: Number.isFinite(length) ? length : pkg.size, supportsRange: true,
      digest: pkg.checksum?.startsWith('sha256:') ? pkg.checksum : undefined, contentType: 'application/x-rpm',
    };
  }

  async download(req: DownloadRequest): Promise<SourceDownload> {
    const repo = parseYumUrl(req.url);
    const { what, url, checksum, size } = repo.file
      ? { what: `file ${repo.file} of ${repo.base}`, url: `${repo.base}/${repo.file}`, checksum: repo.checksum, size: undefined }
      : await this.resolve(req).then(({ pkg, url }) => ({ what: `package ${pkg.nevra}`, url, checksum: pkg.checksum, size: pkg.size }));
    const res = await this.http.get({ url, what, range: req.range, signal: req.signal });
    const length = Number(res.headers['content-length']);
    const contentLength = Number.isFinite(length) ? length : undefined;
    const verifier = !req.range && checksum ? new DigestVerifier(checksum, `${what} (${safeUrl(url)})`, size ?? contentLength) : undefined;
    return { stream: abortableStream(res.body, verifier, req.signal, what), contentLength };
  }

  /**
   * The repository as a mirror needs it, each file at its path in the repository: every package,
   * every metadata file repomd.xml lists, then `repodata/repomd.xml` itself in a later phase
   * (copied last, so a mirror never points at metadata or packages it lacks). Metadata URLs pin
   * the checksum repomd.xml gives (repomd.xml's own is computed), so a download of a file that
   * changed since the listing fails instead of mixing two versions of the repository.
   */
  async *list(req: ListRequest): AsyncIterable<SourceEntry> {
    const repo = parseYumUrl(req.url);
    if (repo.spec || repo.file) throw new D7yError('D7Y_INVALID_ARGUMENT', `${req.url} names a package or a file, not a repository`, { fix: 'list the repository URL, ending in /' });
    const index = await this.metadata.index(repo.base, req.signal);
    for (const p of await this.metadata.packagesOf(repo.base, index, req.signal)) {
      yield { url: yumPackageUrl(repo, p.nevra), path: p.href, isDirectory: false, contentLength: p.size, digest: sha256Of(p.checksum), phase: 0 };
    }
    for (const f of index.files) {
      if (/^[a-z]+:\/\//i.test(f.href)) continue;
      yield { url: yumFileUrl(repo, f.href, f.checksum), path: f.href, isDirectory: false, contentLength: f.size, digest: sha256Of(f.checksum), phase: 0 };
    }
    const repomd = `sha256:${createHash('sha256').update(index.repomd).digest('hex')}`;
    yield { url: yumFileUrl(repo, 'repodata/repomd.xml', repomd), path: 'repodata/repomd.xml', isDirectory: false, contentLength: index.repomd.length, digest: repomd, phase: 1 };
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async resolve(req: SourceRequest): Promise<{ pkg: YumPackage; url: string; repo: YumUrl }> {
    const repo = parseYumUrl(req.url);
    if (!repo.spec) throw new D7yError('D7Y_INVALID_ARGUMENT', `${req.url} names a repository, not a package`, { fix: 'add a package name, or list the repository' });
    const packages = await this.metadata.packages(repo.base, req.signal);
    const pkg = matchPackage(packages, repo.spec, this.arches);
    if (!pkg) {
      const similar = packages.filter((p) => p.name.includes(repo.spec!.split('-')[0]!)).slice(0, 5).map((p) => p.nevra);
      throw new D7yError('D7Y_SOURCE_NOT_FOUND', `package ${repo.spec} not found in repository ${repo.base} (${packages.length} packages${similar.length ? `; similar: ${similar.join(', ')}` : ''})`, {
        fix: 'check the package name, version and architecture; list the repository to see what it has', details: { repository: repo.base },
      });
    }
    const url = /^https?:\/\//.test(pkg.href) ? pkg.href : `${repo.base}/${pkg.href}`;
    return { pkg, url, repo };
  }
}

function sha256Of(checksum: string | undefined): string | undefined {
  return checksum?.startsWith('sha256:') ? checksum : undefined;
}
