import { D7yError } from '../../core/index.js';

/** The grammar of `oci://` URLs, shown by every D7Y_INVALID_ARGUMENT about one. */
export const OCI_URL_GRAMMAR = [
  'oci://<registry>[:<port>]/<repository>[:<tag>]           an image by tag (default tag "latest")',
  'oci://<registry>[:<port>]/<repository>@sha256:<hex>       a manifest or image index by digest',
  'oci://<registry>[:<port>]/<repository>/blobs/sha256:<hex> a blob (layer or config) by digest',
  'oci://<registry>[:<port>]/<repository>/                   the repository: list gives its tags',
  'query: ?platform=<os>/<arch>[/<variant>] or ?platform=all (every platform)  ?insecure=true (plain http)',
].join('\n  ');

/** The `platform` that stands for every platform of an index: the image as the registry holds it. */
export const ALL_PLATFORMS = 'all';

/** Synthetic OCI image-layout files a `list` of an image yields beside its blobs. */
export type OciLayoutFile = 'index.json' | 'oci-layout' | 'oci-manifest';

/** A parsed `oci://` URL. Exactly one of `tag`, `digest`, `blob` is set unless `repositoryOnly`. */
export interface OciUrl {
  registry: string;
  repository: string;
  tag?: string;
  /** A manifest or index digest (`sha256:<hex>`). */
  digest?: string;
  /** A blob digest (`sha256:<hex>`). */
  blob?: string;
  /** The URL names the repository itself (a trailing `/`). */
  repositoryOnly: boolean;
  platform?: string;
  insecure: boolean;
  /** Set on the synthetic layout-file URLs a `list` yields. */
  layout?: OciLayoutFile;
  /** The tag recorded in a synthetic `index.json` (`org.opencontainers.image.ref.name`). */
  refName?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REGISTRY = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;

function invalid(url: string, why: string): D7yError {
  return new D7yError('D7Y_INVALID_ARGUMENT', `"${redact(url)}" is not a valid oci:// URL: ${why}. Expected:\n  ${OCI_URL_GRAMMAR}`, {
    fix: 'write the URL as oci://registry[:port]/repository:tag (see sources/oci/README.md)',
  });
}

function redact(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//[redacted]@');
}

/** Parses an `oci://` URL; D7Y_INVALID_ARGUMENT (showing the grammar) when it is malformed. */
export function parseOciUrl(url: string): OciUrl {
  const m = /^oci:\/\/([^/?#]+)\/([^?#]*)(?:\?([^#]*))?$/i.exec(url);
  if (!m) throw invalid(url, 'it needs a registry and a repository');
  const [, registry, rawPath, query] = m as unknown as [string, string, string, string | undefined];
  if (registry.includes('@')) throw invalid(url, 'credentials do not belong in the URL (set them in the plugin config)');
  if (!REGISTRY.test(registry)) throw invalid(url, `"${registry}" is not a registry host[:port]`);
  const params = new URLSearchParams(query ?? '');
  for (const key of params.keys()) {
    if (!['platform', 'insecure', 'layout', 'ref'].includes(key)) throw invalid(url, `unknown query parameter "${key}"`);
  }
  const platform = params.get('platform') ?? undefined;
  if (platform !== undefined && platform !== ALL_PLATFORMS && !PLATFORM.test(platform)) throw invalid(url, `platform "${platform}" is not <os>/<arch>[/<variant>] or all`);
  const insecureRaw = params.get('insecure');
  if (insecureRaw !== null && insecureRaw !== 'true' && insecureRaw !== 'false') throw invalid(url, 'insecure must be true or false');
  const layoutRaw = params.get('layout');
  if (layoutRaw !== null && !['index.json', 'oci-layout', 'oci-manifest'].includes(layoutRaw)) throw invalid(url, 'layout must be index.json, oci-layout or oci-manifest');
  const base = { registry: registry.toLowerCase(), platform, insecure: insecureRaw === 'true' };

  if (rawPath.endsWith('/') || rawPath === '') {
    const repository = rawPath.replace(/\/+$/, '');
    checkRepository(url, repository);
    return { ...base, repository, repositoryOnly: true };
  }
  const blobMatch = /^(.+)\/blobs\/(sha256:[^/]*)$/.exec(rawPath);
  if (blobMatch) {
    const [, repository, blob] = blobMatch as unknown as [string, string, string];
    checkRepository(url, repository);
    if (!DIGEST.test(blob)) throw invalid(url, `"${blob}" is not a sha256:<64 hex> digest`);
    return { ...base, repository, blob, repositoryOnly: false };
  }
  const at = rawPath.indexOf('@');
  if (at >= 0) {
    const repository = rawPath.slice(0, at);
    const digest = rawPath.slice(at + 1);
    checkRepository(url, repository);
    if (!DIGEST.test(digest)) throw invalid(url, `"${digest}" is not a sha256:<64 hex> digest`);
    const layout = (layoutRaw ?? undefined) as OciLayoutFile | undefined;
    const refName = params.get('ref') ?? undefined;
    if (refName !== undefined && !TAG.test(refName)) throw invalid(url, `ref "${refName}" is not a valid tag`);
    return { ...base, repository, digest, layout, refName, repositoryOnly: false };
  }
  if (layoutRaw !== null) throw invalid(url, 'layout is only valid on a digest URL');
  const lastSlash = rawPath.lastIndexOf('/');
  const colon = rawPath.indexOf(':', lastSlash + 1);
  const repository = colon >= 0 ? rawPath.slice(0, colon) : rawPath;
  const tag = colon >= 0 ? rawPath.slice(colon + 1) : 'latest';
  checkRepository(url, repository);
  if (!TAG.test(tag)) throw invalid(url, `"${tag}" is not a valid tag`);
  return { ...base, repository, tag, repositoryOnly: false };
}

function checkRepository(url: string, repository: string): void {
  if (!repository) throw invalid(url, 'the repository is missing');
  for (const part of repository.split('/')) {
    if (!COMPONENT.test(part)) throw invalid(url, `"${repository}" is not a repository name (lower-case components separated by /)`);
  }
}

function query(ref: Pick<OciUrl, 'insecure'>, extra: Record<string, string | undefined> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) p.set(k, v);
  if (ref.insecure) p.set('insecure', 'true');
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The URL of a blob of `ref`'s repository. */
export function ociBlobUrl(ref: Pick<OciUrl, 'registry' | 'repository' | 'insecure'>, digest: string): string {
  return `oci://${ref.registry}/${ref.repository}/blobs/${digest}${query(ref)}`;
}

/**
 * The URL of a manifest (or a synthetic layout file of it) by digest; `platform` only for the
 * `index.json` of every platform (`all`), whose descriptor keeps the manifest as the registry has it.
 */
export function ociManifestUrl(ref: Pick<OciUrl, 'registry' | 'repository' | 'insecure'>, digest: string, layout?: OciLayoutFile, refName?: string, platform?: typeof ALL_PLATFORMS): string {
  const index = layout === 'index.json';
  return `oci://${ref.registry}/${ref.repository}@${digest}${query(ref, { layout, ref: index ? refName : undefined, platform: index ? platform : undefined })}`;
}

/** The URL of a tag of `ref`'s repository. */
export function ociTagUrl(ref: Pick<OciUrl, 'registry' | 'repository' | 'insecure'>, tag: string): string {
  return `oci://${ref.registry}/${ref.repository}:${tag}${query(ref)}`;
}

/** A short `registry/repository…` name for messages. */
export function describeOciUrl(ref: OciUrl): string {
  const what = ref.blob ? `/blobs/${ref.blob}` : ref.digest ? `@${ref.digest}` : ref.tag ? `:${ref.tag}` : '/';
  return `${ref.registry}/${ref.repository}${what}`;
}
