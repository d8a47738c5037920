import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { XMLParser } from 'fast-xml-parser';
import { Decompress } from 'fzstd';
import xz from 'xz-decompress';
import { D7yError, aborted, readLimited, type RepoHttp } from '../../core/index.js';

/** One package of a repository's primary metadata. */
export interface YumPackage {
  name: string;
  arch: string;
  epoch: string;
  version: string;
  release: string;
  /** `<name>-<version>-<release>.<arch>` */
  nevra: string;
  /** Relative to the repository base (or absolute when `xml:base` says so). */
  href: string;
  size?: number;
  /** `<algorithm>:<hex>` from the metadata. */
  checksum?: string;
}

/** A file of the repository's metadata that repomd.xml lists (`<data>`): primary, filelists, other, comps, … */
export interface RepoDataFile {
  type: string;
  /** Relative to the repository base. */
  href: string;
  /** `<algorithm>:<hex>` of the file as stored. */
  checksum: string;
  size?: number;
}

/** repodata/repomd.xml as read, with the files it lists. */
export interface RepoIndex {
  repomd: Buffer;
  files: RepoDataFile[];
}

interface Cached {
  checksum: string;
  packages: YumPackage[];
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  isArray: (name) => name === 'package' || name === 'data',
});

/**
 * Reads a repository's metadata: repodata/repomd.xml (every time, it is small), then the primary
 * metadata it points to (gzip, xz or zstd; checked against repomd's checksum), parsed once per
 * primary checksum and kept for the `maxRepos` most recently used repositories.
 */
export class YumMetadata {
  private readonly cache = new Map<string, Cached>();
  private readonly pending = new Map<string, Promise<YumPackage[]>>();

  constructor(private readonly http: RepoHttp, private readonly maxMetadataBytes: number, private readonly maxRepos = 8) {}

  /** repodata/repomd.xml of the repository at `base` (read every time) and the metadata files it lists. */
  async index(base: string, signal?: AbortSignal): Promise<RepoIndex> {
    const what = `repository ${base} (repodata/repomd.xml)`;
    const res = await this.http.get({ url: `${base}/repodata/repomd.xml`, what, signal });
    const repomd = await readLimited(res.body, 4 * 1024 * 1024, what, signal);
    return { repomd, files: dataFilesOf(repomd.toString('utf8'), base) };
  }

  async packages(base: string, signal?: AbortSignal): Promise<YumPackage[]> {
    return this.packagesOf(base, await this.index(base, signal), signal);
  }

  /** The packages of the primary metadata that `index` names. */
  async packagesOf(base: string, index: RepoIndex, signal?: AbortSignal): Promise<YumPackage[]> {
    const primary = index.files.find((f) => f.type === 'primary');
    if (!primary) throw new D7yError('D7Y_SOURCE_ERROR', `repodata/repomd.xml of ${base} names no primary metadata`, { fix: 'regenerate the repository metadata with createrepo_c' });
    const hit = this.cache.get(base);
    if (hit && hit.checksum === primary.checksum) {
      this.cache.delete(base);
      this.cache.set(base, hit);
      return hit.packages;
    }
    const key = `${base} ${primary.checksum}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.load(base, primary).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return raceAbort(p, signal, `primary metadata of ${base}`);
  }

  private async load(base: string, primary: { href: string; checksum: string }): Promise<YumPackage[]> {
    const what = `primary metadata of ${base} (${primary.href})`;
    const res = await this.http.get({ url: `${base}/${primary.href}`, what });
    const compressed = await readLimited(res.body, this.maxMetadataBytes, what);
    const [alg, hex] = primary.checksum.split(':') as [string, string];
    const got = createHash(alg === 'sha' ? 'sha1' : alg).update(compressed).digest('hex');
    if (got !== hex) {
      throw new D7yError('D7Y_DIGEST_MISMATCH', `${what}: ${alg} is ${got}, repomd.xml says ${hex}`, { fix: 'the repository metadata is inconsistent; regenerate it (createrepo_c) or retry later', details: { expected: primary.checksum } });
    }
    const xml = await decompress(compressed, primary.href, this.maxMetadataBytes, what);
    const packages = parsePrimary(xml, what);
    this.cache.set(base, { checksum: primary.checksum, packages });
    while (this.cache.size > this.maxRepos) this.cache.delete(this.cache.keys().next().value as string);
    return packages;
  }

}

/** The `<data>` files of repomd.xml that have a location and a checksum. */
function dataFilesOf(repomd: string, base: string): RepoDataFile[] {
  let doc: { repomd?: { data?: { '@_type'?: string; location?: { '@_href'?: string }; checksum?: { '#text'?: string; '@_type'?: string }; size?: string }[] } };
  try {
    doc = parser.parse(repomd) as typeof doc;
  } catch (err) {
    throw new D7yError('D7Y_SOURCE_ERROR', `repodata/repomd.xml of ${base} is not valid XML`, { cause: err, fix: 'check the repository' });
  }
  const out: RepoDataFile[] = [];
  for (const d of doc.repomd?.data ?? []) {
    const href = d.location?.['@_href'];
    const sum = d.checksum?.['#text']?.trim().toLowerCase();
    if (!href || !sum || !d['@_type']) continue;
    const alg = d.checksum?.['@_type'] ?? 'sha256';
    const size = Number(d.size);
    out.push({ type: d['@_type'], href, checksum: `${alg === 'sha' ? 'sha1' : alg}:${sum}`, size: Number.isFinite(size) && d.size !== undefined ? size : undefined });
  }
  return out;
}

async function decompress(bytes: Buffer, href: string, max: number, what: string): Promise<string> {
  try {
    if (href.endsWith('.gz') || (bytes[0] === 0x1f && bytes[1] === 0x8b)) return gunzipSync(bytes, { maxOutputLength: max }).toString('utf8');
    if (href.endsWith('.zst') || bytes.readUInt32LE(0) === 0xfd2fb528) return zstd(bytes, max);
    if (href.endsWith('.xz') || bytes.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return await xzText(bytes, max);
    if (href.endsWith('.xml')) return bytes.toString('utf8');
  } catch (err) {
    if (err instanceof D7yError) throw err;
    throw new D7yError('D7Y_SOURCE_ERROR', `${what} could not be decompressed: ${(err as Error).message}`, { cause: err, fix: 'check the repository metadata' });
  }
  throw new D7yError('D7Y_SOURCE_ERROR', `${what} uses a compression d7y does not read (gzip, xz and zstd are supported)`, { fix: 'regenerate the metadata with --general-compress-type gz, xz or zstd' });
}

function tooBig(max: number): D7yError {
  return new D7yError('D7Y_SOURCE_ERROR', `the primary metadata is larger than ${max} bytes uncompressed`, { fix: 'raise maxMetadataBytes in the yum plugin config' });
}

function zstd(bytes: Buffer, max: number): string {
  const parts: Uint8Array[] = [];
  let total = 0;
  const d = new Decompress((chunk) => {
    total += chunk.length;
    if (total > max) throw tooBig(max);
    parts.push(chunk);
  });
  d.push(bytes, true);
  return Buffer.concat(parts).toString('utf8');
}

async function xzText(bytes: Buffer, max: number): Promise<string> {
  const stream = new xz.XzReadableStream(new Blob([bytes]).stream());
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > max) throw tooBig(max);
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

type RawPackage = {
  name?: string; arch?: string;
  version?: { '@_epoch'?: string; '@_ver'?: string; '@_rel'?: string };
  checksum?: { '#text'?: string; '@_type'?: string };
  size?: { '@_package'?: string };
  location?: { '@_href'?: string; '@_xml:base'?: string };
};

function parsePrimary(xml: string, what: string): YumPackage[] {
  let doc: { metadata?: { package?: RawPackage[] } };
  try {
    doc = parser.parse(xml) as typeof doc;
  } catch (err) {
    throw new D7yError('D7Y_SOURCE_ERROR', `${what} is not valid XML`, { cause: err, fix: 'check the repository metadata' });
  }
  const out: YumPackage[] = [];
  for (const p of doc.metadata?.package ?? []) {
    const href = p.location?.['@_href'];
    if (!p.name || !p.arch || !p.version?.['@_ver'] || !href) continue;
    const version = p.version['@_ver'];
    const release = p.version['@_rel'] ?? '';
    const base = p.location?.['@_xml:base'];
    const size = Number(p.size?.['@_package']);
    const sum = p.checksum?.['#text']?.trim().toLowerCase();
    const alg = p.checksum?.['@_type'] === 'sha' ? 'sha1' : p.checksum?.['@_type'];
    out.push({
      name: p.name, arch: p.arch, epoch: p.version['@_epoch'] ?? '0', version, release,
      nevra: `${p.name}-${version}${release ? `-${release}` : ''}.${p.arch}`,
      href: base ? `${base.replace(/\/+$/, '')}/${href}` : href,
      size: Number.isFinite(size) ? size : undefined,
      checksum: sum && alg ? `${alg}:${sum}` : undefined,
    });
  }
  return out;
}

/** `p`, or D7Y_ABORTED as soon as `signal` aborts (the shared load `p` goes on for other callers). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(what));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
