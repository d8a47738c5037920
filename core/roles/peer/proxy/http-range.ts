/** A single HTTP byte range as a client wrote it, before the object's length is known. */
export type RangeSpec =
  | { kind: 'from'; start: number; end?: number }
  | { kind: 'suffix'; length: number };

/**
 * Parses a `Range` header (RFC 9110 §14.1.2). Returns `undefined` for no header, `'multiple'` for
 * several ranges, `'invalid'` for a header that is not a byte range (the server then ignores it
 * and sends the whole object, as the RFC says), else the one range.
 */
export function parseRange(header: string | undefined): RangeSpec | 'multiple' | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return 'invalid';
  const parts = m[1]!.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) return 'invalid';
  if (parts.length > 1) return 'multiple';
  const one = /^(\d*)-(\d*)$/.exec(parts[0]!);
  if (!one || (one[1] === '' && one[2] === '')) return 'invalid';
  if (one[1] === '') {
    const length = Number(one[2]);
    return Number.isSafeInteger(length) ? { kind: 'suffix', length } : 'invalid';
  }
  const start = Number(one[1]);
  const end = one[2] === '' ? undefined : Number(one[2]);
  if (!Number.isSafeInteger(start) || (end !== undefined && (!Number.isSafeInteger(end) || end < start))) return 'invalid';
  return { kind: 'from', start, end };
}

/** The bytes a range selects of an object of `size` bytes, or `undefined` when it is unsatisfiable (416). */
export function resolveRange(spec: RangeSpec, size: number): { start: number; length: number } | undefined {
  if (spec.kind === 'suffix') {
    if (spec.length === 0 || size === 0) return undefined;
    const length = Math.min(spec.length, size);
    return { start: size - length, length };
  }
  if (spec.start >= size) return undefined;
  const last = Math.min(spec.end ?? size - 1, size - 1);
  return { start: spec.start, length: last - spec.start + 1 };
}
