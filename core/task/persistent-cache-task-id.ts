import { createHash, type Hash } from 'node:crypto';

const HEX64 = /^[0-9a-f]{64}$/;
/** The literal that ends every persistent-cache task id's hash input (Dragonfly's task type name). */
const TYPE = 'PERSISTENT_CACHE';

/**
 * The task id of a persistent-cache task named by its user: 64 lower-case hex characters are an id
 * already; any other name stands for sha256(name + "PERSISTENT_CACHE").
 */
export function persistentCacheTaskIdOf(name: string): string {
  return HEX64.test(name) ? name : createHash('sha256').update(name).update(TYPE).digest('hex');
}

/** True for a name that is a task id itself (64 lower-case hex characters). */
export function isPersistentCacheTaskId(name: string): boolean {
  return HEX64.test(name);
}

/**
 * Dragonfly's persistent-cache task id: sha256 of the file bytes, then the tag, the application,
 * the piece length (when the user set one) and "PERSISTENT_CACHE". Feed the bytes in order with
 * `update`, then call `digest`.
 */
export class PersistentCacheTaskIdHasher {
  private readonly hash: Hash = createHash('sha256');
  private readonly content: Hash = createHash('sha256');

  update(bytes: Uint8Array): void {
    this.hash.update(bytes);
    this.content.update(bytes);
  }

  /** The task id and the content's own digest (`sha256:<hex>`). */
  digest(o: { tag?: string; application?: string; pieceLength?: number }): { taskId: string; contentDigest: string } {
    this.hash.update(o.tag ?? '').update(o.application ?? '');
    if (o.pieceLength !== undefined) this.hash.update(String(o.pieceLength));
    this.hash.update(TYPE);
    return { taskId: this.hash.digest('hex'), contentDigest: `sha256:${this.content.digest('hex')}` };
  }
}
