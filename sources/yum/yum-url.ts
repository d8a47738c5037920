import { D7yError } from '../../core/index.js';

/** The grammar of `yum://` URLs, shown by every D7Y_INVALID_ARGUMENT about one. */
export const YUM_URL_GRAMMAR = [
  'yum://<host>[:<port>]/<repository path>/<package>   a package of the repository whose repodata/ is at <repository path>/',
  'yum://<host>[:<port>]/<repository path>/             the repository: list gives all its packages',
  '<package>: <name>[-<version>[-<release>]][.<arch>] (a name, NEVR or file name), matched against the primary metadata',
  'yum://<host>[:<port>]/<repository path>/?file=<path>[&checksum=<alg>:<hex>]   a file of the repository (repodata/repomd.xml, a metadata file), as list yields them',
  'query: ?scheme=http for plain-http repositories (https by default)',
].join('\n  ');

export interface YumUrl {
  /** The repository base URL (`https://host/path`, no trailing slash). */
  base: string;
  /** The package spec; absent for a repository URL. */
  spec?: string;
  scheme: 'http' | 'https';
  /** `host[:port]/path` of the repository, for building entry URLs. */
  hostPath: string;
  /** A file of the repository by its path in it (`repodata/repomd.xml`); only on repository URLs. */
  file?: string;
  /** `<alg>:<hex>` the file must have (verified on a full download). */
  checksum?: string;
}

const FILE = /^[A-Za-z0-9_.+~^-][A-Za-z0-9_.+~^/-]*$/;
const CHECKSUM = /^(sha1|sha224|sha256|sha384|sha512):[a-f0-9]{40,128}$/;

const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;
const SPEC = /^[A-Za-z0-9_+][A-Za-z0-9_.+~^-]*$/;

function invalid(url: string, why: string): D7yError {
  return new D7yError('D7Y_INVALID_ARGUMENT', `"${url.replace(/\/\/[^/@]*@/, '//')}" is not a valid yum:// URL: ${why}. Expected:\n  ${YUM_URL_GRAMMAR}`, {
    fix: 'write it as yum://host[:port]/path/to/repo/<package>?scheme=http (see sources/yum/README.md)',
  });
}

/** Parses a `yum://` URL; D7Y_INVALID_ARGUMENT (showing the grammar) when it is malformed. */
export function parseYumUrl(url: string): YumUrl {
  const m = /^yum:\/\/([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw invalid(url, 'it needs a host and a path');
  const [, host, rawPath, query] = m as unknown as [string, string, string | undefined, string | undefined];
  if (host.includes('@')) throw invalid(url, 'credentials do not belong in the URL (set them in the plugin config)');
  if (!HOST.test(host)) throw invalid(url, `"${host}" is not a host[:port]`);
  const params = new URLSearchParams(query ?? '');
  for (const k of params.keys()) if (!['scheme', 'file', 'checksum'].includes(k)) throw invalid(url, `unknown query parameter "${k}"`);
  const scheme = params.get('scheme') ?? 'https';
  if (scheme !== 'http' && scheme !== 'https') throw invalid(url, 'scheme must be http or https');
  const path = rawPath ?? '/';
  if (path.split('/').some((s) => s === '..' || s === '.')) throw invalid(url, 'the path may not contain . or ..');
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash).replace(/\/+$/, '');
  const last = decodeURIComponent(path.slice(slash + 1));
  const spec = last === '' ? undefined : last.replace(/\.rpm$/, '');
  if (spec !== undefined && !SPEC.test(spec)) throw invalid(url, `"${last}" is not a package name`);
  const file = params.get('file') ?? undefined;
  const checksum = params.get('checksum') ?? undefined;
  if (file !== undefined && (spec !== undefined || !FILE.test(file) || file.split('/').some((p) => p === '..' || p === '.' || p === ''))) {
    throw invalid(url, `file "${file}" is not a path inside the repository (and needs a repository URL ending in /)`);
  }
  if (checksum !== undefined && (file === undefined || !CHECKSUM.test(checksum))) throw invalid(url, 'checksum is <alg>:<hex>, beside file');
  return { base: `${scheme}://${host}${dir}`, spec, scheme, hostPath: `${host}${dir}`, file, checksum };
}

/** The `yum://` URL of a file of the repository `repo` (metadata), pinned to its checksum when known. */
export function yumFileUrl(repo: YumUrl, path: string, checksum?: string): string {
  const q = new URLSearchParams();
  if (repo.scheme === 'http') q.set('scheme', 'http');
  q.set('file', path);
  if (checksum && CHECKSUM.test(checksum)) q.set('checksum', checksum);
  return `yum://${repo.hostPath}/?${q}`;
}

/** The `yum://` URL of a package of the repository `repo`. */
export function yumPackageUrl(repo: YumUrl, nevra: string): string {
  return `yum://${repo.hostPath}/${encodeURIComponent(nevra)}${repo.scheme === 'http' ? '?scheme=http' : ''}`;
}
