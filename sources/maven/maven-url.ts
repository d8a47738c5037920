import { D7yError } from '../../core/index.js';

/** The grammar of `maven://` URLs, shown by every D7Y_INVALID_ARGUMENT about one. */
export const MAVEN_URL_GRAMMAR = [
  'maven://<groupId>:<artifactId>:<version>[:<classifier>][@<extension>]  one file of a version (extension jar by default)',
  'maven://<groupId>:<artifactId>                                        the artifact: list gives its versions',
  'version: a release, <base>-SNAPSHOT (the latest timestamped build), a timestamped snapshot, LATEST or RELEASE',
  'query: ?repo=<repository base URL> (else the plugin config "repositories", tried in order)',
].join('\n  ');

export interface MavenUrl {
  groupId: string;
  artifactId: string;
  /** Absent for an artifact URL (a version listing). */
  version?: string;
  classifier?: string;
  extension: string;
  /** `?repo=`, without a trailing slash. */
  repo?: string;
}

const ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const VERSION = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/;

function invalid(url: string, why: string): D7yError {
  return new D7yError('D7Y_INVALID_ARGUMENT', `"${url.replace(/\/\/[^/@?]*@(?=[^?]*\?)/, '//')}" is not a valid maven:// URL: ${why}. Expected:\n  ${MAVEN_URL_GRAMMAR}`, {
    fix: 'write it as maven://groupId:artifactId:version[:classifier][@extension]?repo=<url> (see sources/maven/README.md)',
  });
}

/** Parses a `maven://` URL; D7Y_INVALID_ARGUMENT (showing the grammar) when it is malformed. */
export function parseMavenUrl(url: string): MavenUrl {
  const m = /^maven:\/\/([^?#]*)(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw invalid(url, 'it does not start with maven://');
  const [, body, query] = m as unknown as [string, string, string | undefined];
  const params = new URLSearchParams(query ?? '');
  for (const k of params.keys()) if (k !== 'repo') throw invalid(url, `unknown query parameter "${k}"`);
  const repo = params.get('repo') ?? undefined;
  if (repo !== undefined) {
    let parsed: URL;
    try { parsed = new URL(repo); } catch { throw invalid(url, 'repo is not a URL'); }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid(url, 'repo must be an http(s) URL');
    if (parsed.username || parsed.password) throw invalid(url, 'credentials do not belong in the URL (set them in the plugin config)');
  }
  const at = body.indexOf('@');
  const coords = at >= 0 ? body.slice(0, at) : body;
  const extension = at >= 0 ? body.slice(at + 1) : 'jar';
  if (!ID.test(extension)) throw invalid(url, `"${extension}" is not an extension`);
  const parts = coords.split(':');
  if (parts.length < 2 || parts.length > 4) throw invalid(url, 'it needs groupId:artifactId[:version[:classifier]]');
  const [groupId, artifactId, version, classifier] = parts as [string, string, string?, string?];
  if (!ID.test(groupId)) throw invalid(url, `"${groupId}" is not a groupId`);
  if (!ID.test(artifactId)) throw invalid(url, `"${artifactId}" is not an artifactId`);
  if (version !== undefined && !VERSION.test(version)) throw invalid(url, `"${version}" is not a version`);
  if (classifier !== undefined && !ID.test(classifier)) throw invalid(url, `"${classifier}" is not a classifier`);
  if (version === undefined && at >= 0) throw invalid(url, 'an extension needs a version');
  return { groupId, artifactId, version, classifier, extension, repo: repo?.replace(/\/+$/, '') };
}

/** Formats coordinates back into a `maven://` URL. */
export function formatMavenUrl(c: MavenUrl): string {
  let s = `maven://${c.groupId}:${c.artifactId}`;
  if (c.version) s += `:${c.version}${c.classifier ? `:${c.classifier}` : ''}${c.extension !== 'jar' ? `@${c.extension}` : ''}`;
  return c.repo ? `${s}?repo=${encodeURIComponent(c.repo)}` : s;
}

/** `g:a[:v[:c]][@ext]` for messages. */
export function describeMaven(c: MavenUrl): string {
  return `${c.groupId}:${c.artifactId}${c.version ? `:${c.version}` : ''}${c.classifier ? `:${c.classifier}` : ''}${c.version && c.extension !== 'jar' ? `@${c.extension}` : ''}`;
}

const TIMESTAMPED = /^(.*)-(\d{8}\.\d{6})-(\d+)$/;

/** The directory version of a file version: `1.0-20240101.120000-3` lives in `1.0-SNAPSHOT`. */
export function baseVersion(version: string): string {
  const m = TIMESTAMPED.exec(version);
  return m ? `${m[1]}-SNAPSHOT` : version;
}
