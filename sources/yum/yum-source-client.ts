import {
  D7yError, type DownloadRequest, type ListRequest, type SourceClient, type SourceDownload, type SourceEntry,
  type SourceRequest, type SourceStat, abortableStream, DigestVerifier, RepoHttp, safeUrl, type RepoCredentials } from '../../core/index.js';
import { YumMetadata, type YumPackage } from './yum-metadata.js';
import { hostArches, matchPackage } from './yum-package-match.js';
import { parseYumUrl, yumPackageUrl, type YumUrl } from './yum-url.js';

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
    const { pkg, url } = await this.resolve(req);
    const what = `package ${pkg.nevra}`;
    const res = await this.http.get({ url, what, range: req.range, signal: req.signal });
    const length = Number(res.headers['content-length']);
    const contentLength = Number.isFinite(length) ? length : undefined;
    const verifier = !req.range && pkg.checksum ? new DigestVerifier(pkg.checksum, `${what} (${safeUrl(url)})`, pkg.size ?? contentLength) : undefined;
    return { stream: abortableStream(res.body, verifier, req.signal, what), contentLength };
  }

  /** Every package of the repository, at its path in the repository (for mirroring). */
  async *list(req: ListRequest): AsyncIterable<SourceEntry> {
    const repo = parseYumUrl(req.url);
    if (repo.spec) throw new D7yError('D7Y_INVALID_ARGUMENT', `${req.url} names a package, not a repository`, { fix: 'list the repository URL, ending in /' });
    for (const p of await this.metadata.packages(repo.base, req.signal)) {
      yield { url: yumPackageUrl(repo, p.nevra), path: p.href, isDirectory: false, contentLength: p.size, digest: p.checksum?.startsWith('sha256:') ? p.checksum : undefined };
    }
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
