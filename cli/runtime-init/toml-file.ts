import { isDeepStrictEqual } from 'node:util';
import { parse, stringify, TomlError, type TomlTable } from 'smol-toml';
import { corruptFileError } from './config-file.js';

/** A plain (mutable) TOML table. */
export type Table = Record<string, unknown>;

export function parseTomlFile(path: string, text: string, rerun: string): Table {
  try {
    return parse(text, { integersAsBigInt: 'asNeeded' }) as Table;
  } catch (err) {
    const reason = err instanceof TomlError ? `line ${err.line}, column ${err.column}: ${err.message.split('\n')[0]}` : (err as Error).message;
    throw corruptFileError(path, 'TOML', reason, rerun, err);
  }
}

/**
 * The new text of a TOML file after `edit` changed its parsed content. When the content is the same
 * as before, the old text is returned as it was (formatting and comments kept), so a second run
 * changes nothing. Otherwise the table is written anew: values are kept, comments are not, and
 * `header` (comment lines, for files d7y owns) goes on top.
 */
export function editToml(path: string, before: string | null, rerun: string, edit: (doc: Table) => void, header = ''): string {
  const original = before === null ? {} : parseTomlFile(path, before, rerun);
  const doc = before === null ? {} : parseTomlFile(path, before, rerun);
  edit(doc);
  if (before !== null && isDeepStrictEqual(original, doc)) return before;
  return `${header}${stringify(doc as TomlTable)}`;
}

export function isTable(v: unknown): v is Table {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** `doc[k1][k2]...`, creating empty tables on the way; a value that is not a table in the way goes to `onConflict` (which throws). */
export function tableAt(doc: Table, keys: readonly string[], onConflict: (path: string) => never): Table {
  let cur = doc;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const next = cur[k];
    if (next === undefined) cur[k] = {};
    else if (!isTable(next)) onConflict(keys.slice(0, i + 1).join('.'));
    cur = cur[k] as Table;
  }
  return cur;
}

/** `header` for a file d7y created (absent, or starting with that header's first line); '' for anyone else's file. */
export function ownHeader(before: string | null, header: string): string {
  return before === null || before.startsWith(header.split('\n')[0]!) ? header : '';
}
