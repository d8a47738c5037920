import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, normalize, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { D7yError } from '../errors/d7y-error.js';
import type { ObjectStorageOptions, SourceClient, SourceEntry } from '../contracts/source-client.js';

/** Where `d7y sync` writes: a local directory, or an origin whose source plugin can `put`. */
export interface SyncTarget {
  /** How the destination is shown to the user. */
  readonly name: string;
  /** Writes `body` (exactly `entry.contentLength` bytes when known) as `entry.path`; a failed write leaves no partial object. */
  write(entry: SourceEntry, body: Readable, signal: AbortSignal): Promise<void>;
  remove(path: string, signal: AbortSignal): Promise<void>;
  /** False when `path` is known to be missing or of another size than recorded (a local file edited or removed). */
  holds(path: string, size: number | undefined): Promise<boolean>;
  /**
   * True when the destination already holds exactly this entry though no run copied it here (a
   * content-addressed blob another image brought); it is then recorded, not copied.
   */
  has?(entry: SourceEntry): Promise<boolean>;
}

/** The file an entry is written to, refusing any path that would leave the output directory. */
export function entryTarget(dir: string, entry: SourceEntry): string {
  const rel = normalize(entry.path).replace(/^([/\\])+/, '');
  const target = resolve(dir, rel);
  if (!rel || rel === '.' || !target.startsWith(dir + sep)) {
    throw new D7yError('D7Y_SOURCE_ERROR', `the listing names "${entry.path}", which is outside the output directory`, {
      fix: 'the origin returned an unsafe path; download that object on its own with -O',
    });
  }
  return target;
}

export function schemeOf(url: string): string {
  return url.slice(0, url.indexOf(':')).toLowerCase();
}

/** True when `dst` names an origin (`s3://…`), false for a local path (or `file://`). */
export function isRemote(dst: string): boolean {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(dst) && !dst.startsWith('file://');
}

/**
 * A local directory: each file written to `<name>.d7y-sync-partial` and renamed when complete; a
 * partial file that a killed run left is replaced when the next run copies that file.
 */
export class DirectoryTarget implements SyncTarget {
  readonly name: string;

  constructor(dir: string) {
    this.name = resolve(dir.startsWith('file://') ? new URL(dir).pathname : dir);
  }

  private fileOf(path: string): string {
    return entryTarget(this.name, { path } as SourceEntry);
  }

  async write(entry: SourceEntry, body: Readable, signal: AbortSignal): Promise<void> {
    const file = this.fileOf(entry.path);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.d7y-sync-partial`;
    try {
      await pipeline(body, createWriteStream(tmp, { mode: 0o644 }), { signal });
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    await rm(this.fileOf(path), { force: true });
  }

  async holds(path: string, size: number | undefined): Promise<boolean> {
    const s = await stat(this.fileOf(path)).catch(() => undefined);
    return !!s && s.isFile() && (size === undefined || s.size === size);
  }
}

/** An object store or HDFS directory, written through its source plugin's `put` and `delete`. */
export class OriginTarget implements SyncTarget {
  private readonly base: string;

  constructor(readonly name: string, private readonly client: SourceClient, private readonly objectStorage?: ObjectStorageOptions) {
    this.base = name.endsWith('/') ? name : `${name}/`;
    if (!client.put) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `the ${schemeOf(name)} source cannot write, so ${name} cannot be a sync destination`, {
        fix: 'sync to a local directory, an object store (s3://, gs://), HDFS (hdfs://) or a registry (oci://)',
      });
    }
  }

  /** Fails unless the plugin can delete (checked before a `--delete` run starts). */
  checkDelete(): void {
    if (this.client.delete) return;
    throw new D7yError('D7Y_INVALID_ARGUMENT', `the ${schemeOf(this.name)} source cannot delete objects, so --delete cannot apply to ${this.name}`, {
      fix: 'drop --delete (objects gone from the source then stay at the destination)',
    });
  }

  private urlOf(path: string): string {
    return `${this.base}${path.split('/').map(encodeURIComponent).join('/')}`;
  }

  async write(entry: SourceEntry, body: Readable, signal: AbortSignal): Promise<void> {
    await this.client.put!({ url: this.urlOf(entry.path), contentLength: entry.contentLength, signal, objectStorage: this.objectStorage }, body);
  }

  async remove(path: string, signal: AbortSignal): Promise<void> {
    this.checkDelete();
    await this.client.delete!({ url: this.urlOf(path), signal, objectStorage: this.objectStorage });
  }

  async holds(): Promise<boolean> {
    return true;
  }
}
