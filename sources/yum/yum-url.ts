import { D7yError } from '../../core/index.js';

/** The grammar of `yum://` URLs, shown by every D7Y_INVALID_ARGUMENT about one. */
export const YUM_URL_GRAMMAR = [
  'yum://<host>[:<port>]/<repository path>/<package>   a package of the repository whose repodata/ is at <repository path>/',
  'yum://<host>[:<port>]/<repository path>/             the repository: list gives all its packages',
  '<package>: <name>[-<version>[-<release>]][.<arch>] (a name, NEVR or file name), matched against the primary metadata',
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
}

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
  for (const k of params.keys()) if (k !== 'scheme') throw invalid(url, `unknown query parameter "${k}"`);
  const scheme = params.get('scheme') ?? 'https';
  if (scheme !== 'http' && scheme !== 'https') throw invalid(url, 'scheme must be http or https');
  const path = rawPath ?? '/';
  if (path.split('/').some((s) => s === '..' || s === '.')) throw invalid(url, 'the path may not contain . or ..');
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash).replace(/\/+$/, '');
  const last = decodeURIComponent(path.slice(slash + 1));
  const spec = last === '' ? undefined : last.replace(/\.rpm$/, '');
  if (spec !== undefined && !SPEC.test(spec)) throw invalid(url, `"${last}" is not a package name`);
  return { base: `${scheme}://${host}${dir}`, spec, scheme, hostPath: `${host}${dir}` };
}

/** The `yum://` URL of a package of the repository `repo`. */
export function yumPackageUrl(repo: YumUrl, nevra: string): string {
  return `yum://${repo.hostPath}/${encodeURIComponent(nevra)}${repo.scheme === 'http' ? '?scheme=http' : ''}`;
}
