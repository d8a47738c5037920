import { createHash } from 'node:crypto';
import { D7yError } from '../errors/d7y-error.js';

/** Query params dropped from the URL before hashing: signatures that differ per request. */
export const DEFAULT_FILTERED_QUERY_PARAMS: readonly string[] = [
  'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders',
  'X-Amz-Signature', 'X-Amz-Security-Token', 'X-Amz-User-Agent',
  'X-Goog-Algorithm', 'X-Goog-Credential', 'X-Goog-Date', 'X-Goog-Expires', 'X-Goog-SignedHeaders',
  'X-Goog-Signature',
  'ns',
];

export interface TaskIdInput {
  url: string;
  tag?: string;
  application?: string;
  /** Only when the user chose one: it changes the task id. */
  pieceLength?: number;
  /** Exact, case-sensitive keys; defaults to DEFAULT_FILTERED_QUERY_PARAMS. */
  filteredQueryParams?: readonly string[];
}

/**
 * The URL as it enters the task id: filtered query params removed (exact key match), an empty
 * query dropped, and the trailing `/` of a bare `/` path stripped. Hosts and schemes of http(s)
 * URLs are normalised the way a URL parser does; other schemes are kept as written.
 */
export function filterUrl(url: string, filtered: readonly string[] = DEFAULT_FILTERED_QUERY_PARAMS): string {
  const hashAt = url.indexOf('#');
  const noFragment = hashAt >= 0 ? url.slice(0, hashAt) : url;
  const qAt = noFragment.indexOf('?');
  let base = qAt >= 0 ? noFragment.slice(0, qAt) : noFragment;
  const query = qAt >= 0 ? noFragment.slice(qAt + 1) : '';
  if (/^https?:\/\//i.test(base)) {
    try {
      base = new URL(base).href;
    } catch {
      // not parseable: hashed as written
    }
  }
  const drop = new Set(filtered);
  const kept = query.split('&').filter((pair) => {
    if (pair === '') return false;
    const eq = pair.indexOf('=');
    const rawKey = eq >= 0 ? pair.slice(0, eq) : pair;
    let key = rawKey;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
    } catch {
      // malformed escapes: compare the raw key
    }
    return !drop.has(key);
  });
  if (kept.length === 0 && /^[a-z][a-z0-9+.-]*:\/\/[^/]*\/$/i.test(base)) base = base.slice(0, -1);
  return kept.length ? `${base}?${kept.join('&')}` : base;
}

/** sha256 hex of filtered URL + tag + application + piece length (if set) + "STANDARD". */
export function taskId(input: TaskIdInput): string {
  const h = createHash('sha256');
  h.update(filterUrl(input.url, input.filteredQueryParams ?? DEFAULT_FILTERED_QUERY_PARAMS));
  if (input.tag) h.update(input.tag);
  if (input.application) h.update(input.application);
  if (input.pieceLength !== undefined) h.update(String(input.pieceLength));
  h.update('STANDARD');
  return h.digest('hex');
}

/** True for a 64-char lower-case hex task id. */
export function isTaskId(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}

/** Refuses what is not a task id (D7Y_INVALID_ARGUMENT, with the fix). */
export function checkTaskId(taskId: string): void {
  if (!isTaskId(taskId)) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `"${taskId}" is not a task id`, { fix: 'task ids are 64 lower-case hex characters (see `d7y task ls` or `d7y task id <url>`)' });
  }
}
