import { D7yError } from '../../core/index.js';

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** The Accept header for manifests: indexes, lists and both image manifest kinds. */
export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(', ');

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageIndex {
  mediaType?: string;
  manifests: Descriptor[];
}

export function isIndex(mediaType: string | undefined, doc: Record<string, unknown>): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerList || (!doc.config && Array.isArray(doc.manifests));
}

/** The platform this process runs on, as `os/arch[/variant]` in OCI terms. */
export function hostPlatform(): string {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  return `${os}/${arch[process.arch] ?? process.arch}`;
}

/**
 * The manifest of `index` for `platform` (`os/arch[/variant]`): an exact variant match first,
 * then the first entry of the same os and architecture. D7Y_SOURCE_NOT_FOUND lists the platforms
 * the index has when none fits.
 */
export function choosePlatform(index: ImageIndex, platform: string, name: string): Descriptor {
  const [os, arch, variant] = platform.split('/');
  const candidates = index.manifests.filter((m) => m.platform?.os === os && m.platform?.architecture === arch);
  const hit = (variant ? candidates.find((m) => m.platform?.variant === variant) : undefined) ?? (variant ? undefined : candidates[0]);
  if (hit) return hit;
  const have = index.manifests.map((m) => m.platform).filter((p) => p && p.os !== 'unknown')
    .map((p) => [p!.os, p!.architecture, p!.variant].filter(Boolean).join('/'));
  throw new D7yError('D7Y_SOURCE_NOT_FOUND', `${name} has no image for platform ${platform} (it has: ${have.join(', ') || 'none'})`, {
    fix: `choose one of its platforms with ?platform=<os>/<arch>, e.g. ?platform=${have[0] ?? 'linux/amd64'}`,
    details: { platform, platforms: have },
  });
}

const DOCKER_TO_OCI: Record<string, string> = {
  'application/vnd.docker.container.image.v1+json': 'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip': 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar': 'application/vnd.oci.image.layer.v1.tar',
};

/**
 * The OCI form of a Docker v2 image manifest, as `skopeo copy` converts it: the same config and
 * layer blobs under OCI media types. Deterministic, so its digest is stable for one input.
 */
export function dockerToOciManifest(doc: Record<string, unknown>): Buffer {
  const map = (d: Descriptor): Descriptor => ({ ...d, mediaType: DOCKER_TO_OCI[d.mediaType] ?? d.mediaType });
  const m = doc as unknown as ImageManifest & Record<string, unknown>;
  const out: Record<string, unknown> = { ...m, mediaType: MEDIA_TYPES.ociManifest, config: map(m.config), layers: (m.layers ?? []).map(map) };
  return Buffer.from(JSON.stringify(out));
}
