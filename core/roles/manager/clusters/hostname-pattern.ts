import { RE2JS } from 're2js';

const MAX_CACHED = 1_000;
const cache = new Map<string, RE2JS | null>();

/**
 * A cluster scope's hostname pattern compiled for RE2 (linear time in the hostname's length, so no
 * pattern can stall the manager); null when RE2 refuses it (look-around and back-references are not
 * RE2 syntax). Compiled patterns are cached, at most 1000.
 */
export function compileHostnamePattern(pattern: string): RE2JS | null {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  let compiled: RE2JS | null;
  try {
    compiled = RE2JS.compile(pattern);
  } catch {
    compiled = null;
  }
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(pattern, compiled);
  return compiled;
}

/** Why RE2 refuses `pattern`, or undefined when it compiles. */
export function hostnamePatternError(pattern: string): string | undefined {
  try {
    RE2JS.compile(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** True when `pattern` (RE2 syntax) matches somewhere in `hostname`; false for a pattern RE2 refuses. */
export function matchesHostname(pattern: string, hostname: string): boolean {
  return compileHostnamePattern(pattern)?.matcher(hostname).find() ?? false;
}
