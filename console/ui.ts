import { h, type ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { ApiError } from './api.js';

/** htm bound to Preact: the console's templates. */
export const html = htm.bind(h);

/** Bytes in B, KiB, MiB, GiB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : '–';
}

export function percent(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`;
}

/** The manager's error as the page shows it: what is wrong and what to do. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const e = error instanceof ApiError ? error : new ApiError(0, String((error as Error).message ?? error));
  return html`<div class="error" role="alert"><strong>${e.message}</strong>${e.fix ? html`<div class="fix">${e.fix}</div>` : null}</div>`;
}

/** Loads `fn` on mount and on `reload()`; `data`, `error`, `loading`. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[] = []): { data?: T; error?: unknown; loading: boolean; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then((data) => live && setState({ data, loading: false }), (error: unknown) => live && setState({ error, loading: false }));
    return () => { live = false; };
  }, [tick, ...deps]);
  return { ...state, reload: useCallback(() => setTick((t) => t + 1), []) };
}

export interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
}

/** A table of rows, or a line saying there are none. */
export function Table<T>({ rows, columns, empty, testid }: { rows: readonly T[] | undefined; columns: Column<T>[]; empty: string; testid?: string }) {
  if (!rows) return null;
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table data-testid=${testid}>
    <thead><tr>${columns.map((c) => html`<th>${c.label}</th>`)}</tr></thead>
    <tbody>${rows.map((r) => html`<tr>${columns.map((c) => html`<td>${c.cell(r)}</td>`)}</tr>`)}</tbody>
  </table>`;
}

export function Page({ title, children }: { title: string; children: ComponentChildren }) {
  return html`<section class="page"><h1>${title}</h1>${children}</section>`;
}

/** Reads a form's named fields as strings. */
export function fieldsOf(e: Event): Record<string, string> {
  e.preventDefault();
  const form = e.currentTarget as HTMLFormElement;
  return Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v)]));
}
