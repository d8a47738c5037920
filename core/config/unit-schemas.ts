import { z } from 'zod';
import { isD7yError } from '../errors/d7y-error.js';
import { formatUnit, parseUnit, UNIT_HELP, type UnitKind } from './units.js';

/** Options of a config value written with units. */
export interface UnitFieldOptions {
  min?: number;
  max?: number;
  /**
   * A JSON number is taken in the internal unit (ms, bytes/s), as the key took it before units;
   * otherwise only `0` may be written without a unit. Sizes always take a number of bytes.
   */
  legacyNumber?: boolean;
  /** Rates: 0 means no limit, and may be written `unlimited` (and is printed so). */
  unlimited?: boolean;
}

/** What a unit field holds, for printing a config back in units. */
export interface UnitFieldMeta {
  kind: UnitKind;
  unlimited?: boolean;
}

/** Every unit field made by duration(), size() and rate(). */
export const unitFields = z.registry<UnitFieldMeta>();
/** Objects made by unitObject(): each key written in units → the legacy key it stands beside. */
export const unitKeyPairs = z.registry<{ pairs: Readonly<Record<string, string>> }>();

function problem(ctx: z.RefinementCtx, message: string): typeof z.NEVER {
  ctx.addIssue({ code: 'custom', message });
  return z.NEVER;
}

type UnitField = z.ZodType<number, unknown>;

function unitField(kind: UnitKind, o: UnitFieldOptions): UnitField {
  const example = UNIT_HELP[kind].examples[0];
  const schema = z.unknown().transform((value, ctx): number => {
    let n: number;
    try {
      if (typeof value === 'number' && (o.legacyNumber || kind === 'size')) {
        if (!Number.isSafeInteger(value) || value < 0) return problem(ctx, `expected a whole number ≥ 0 or a ${kind} such as "${example}"`);
        n = value;
      } else if (typeof value === 'number' || typeof value === 'string') {
        n = parseUnit(kind, String(value), { unlimited: o.unlimited });
      } else {
        return problem(ctx, `expected a ${kind} such as "${example}", received ${value === null ? 'null' : typeof value}`);
      }
    } catch (err) {
      if (!isD7yError(err)) throw err;
      return problem(ctx, `${err.message}; ${err.fix}`);
    }
    if (o.min !== undefined && n < o.min) return problem(ctx, `must be at least ${formatUnit(kind, o.min)}`);
    if (o.max !== undefined && n > o.max) return problem(ctx, `must be at most ${formatUnit(kind, o.max)}`);
    return n;
  });
  unitFields.add(schema, { kind, unlimited: o.unlimited });
  return schema;
}

declare const PAIRED: unique symbol;
/** A key in units that stands beside a legacy numeric key `L`, with the default `D` when neither is set. */
export type PairedField<L extends string, D extends number | undefined> = z.ZodType<number | undefined, unknown> & { readonly [PAIRED]: { legacy: L; fallback: D } };
/** Options of a key in units that replaces a legacy key in the internal unit (`pieceTimeoutMs`). */
export interface PairedFieldOptions<L extends string, D extends number | undefined> extends UnitFieldOptions {
  /** The legacy key: a whole number in ms, bytes or bytes/s, still accepted; the parsed config has only this key. */
  legacy: L;
  /** The value when neither key is set; none leaves the legacy key unset. */
  default?: D;
}

interface PairMeta { legacy: string; fallback?: number; min?: number; max?: number; kind: UnitKind }
const pairedFields = z.registry<PairMeta>();

function field(kind: UnitKind, o: UnitFieldOptions & { legacy?: string; default?: number }): z.ZodType {
  const schema = unitField(kind, o);
  if (o.legacy === undefined) return schema;
  const optional = schema.optional();
  pairedFields.add(optional, { legacy: o.legacy, fallback: o.default, min: o.min, max: o.max, kind });
  return optional;
}

/** A duration such as `"30s"` or `"1h30m"`, parsed to milliseconds (see units.ts). */
export function duration(o?: UnitFieldOptions): UnitField;
export function duration<const L extends string, const D extends number | undefined = undefined>(o: PairedFieldOptions<L, D>): PairedField<L, D>;
export function duration(o: UnitFieldOptions & { legacy?: string; default?: number } = {}): z.ZodType {
  return field('duration', o);
}

/** A size such as `"4MiB"` or `"1GB"`, or a number of bytes, parsed to bytes. */
export function size(o?: UnitFieldOptions): UnitField;
export function size<const L extends string, const D extends number | undefined = undefined>(o: PairedFieldOptions<L, D>): PairedField<L, D>;
export function size(o: UnitFieldOptions & { legacy?: string; default?: number } = {}): z.ZodType {
  return field('size', o);
}

/** A rate such as `"100MiB/s"` or `"50Mbit/s"`, parsed to bytes per second. */
export function rate(o?: UnitFieldOptions): UnitField;
export function rate<const L extends string, const D extends number | undefined = undefined>(o: PairedFieldOptions<L, D>): PairedField<L, D>;
export function rate(o: UnitFieldOptions & { legacy?: string; default?: number } = {}): z.ZodType {
  return field('rate', o);
}

type Flat<T> = { [K in keyof T]: T[K] };
type PairedKeys<S> = { [K in keyof S]: S[K] extends PairedField<string, number | undefined> ? K : never }[keyof S];
/** An object's output: every paired key folded into its legacy key. */
export type UnitObjectOutput<S extends z.ZodRawShape> = Flat<z.output<z.ZodObject<Omit<S, PairedKeys<S>>, z.core.$strict>>
  & { [K in keyof S as S[K] extends PairedField<infer L, number> ? L : never]: number }
  & { [K in keyof S as S[K] extends PairedField<infer L, undefined> ? L : never]?: number }>;

/** A strict object made by unitObject(): parses like z.strictObject, and can be extended. */
export type UnitObject<S extends z.ZodRawShape> = z.ZodType<UnitObjectOutput<S>, Record<string, unknown>> & {
  /** Every key it accepts, legacy keys included. */
  readonly shape: Readonly<S> & Readonly<Record<string, z.core.$ZodType>>;
  extend<E extends z.ZodRawShape>(extra: E): UnitObject<Flat<Omit<S, keyof E> & E>>;
};

/**
 * A strict object where a setting is written in units under a new key (`pieceTimeout: 30s`, made
 * with `duration({ legacy: 'pieceTimeoutMs', default: 30_000 })`) or, as in older files, as a whole
 * number under its legacy key (`pieceTimeoutMs: 30000`), with the same bounds. Setting both is an
 * error. The output has the legacy key only, so the code reading the config is unchanged.
 */
export function unitObject<S extends z.ZodRawShape>(shape: S): UnitObject<S> {
  const full: Record<string, z.core.$ZodType> = {};
  const pairs: Record<string, PairMeta> = {};
  for (const [key, schema] of Object.entries(shape)) {
    full[key] = schema;
    const pair = pairedFields.get(schema);
    if (!pair) continue;
    pairs[key] = pair;
    const legacy = z.number().int().min(pair.min ?? 0);
    full[pair.legacy] = (pair.max === undefined ? legacy : legacy.max(pair.max)).optional();
  }
  const checked = z.strictObject(full).superRefine((o: Record<string, unknown>, ctx) => {
    for (const [key, { legacy, kind }] of Object.entries(pairs)) {
      if (o[key] !== undefined && o[legacy] !== undefined) {
        ctx.addIssue({ code: 'custom', path: [key], message: `${key} and ${legacy} are the same setting: keep one (${key} takes units, e.g. "${UNIT_HELP[kind].examples[0]}")` });
      }
    }
  });
  const legacyKeys = new Set(Object.values(pairs).map((p) => p.legacy));
  const out = checked.transform((o) => {
    const merged: Record<string, unknown> = {};
    for (const key of Object.keys(full)) {
      const pair = pairs[key];
      const value = pair ? o[key] ?? o[pair.legacy] ?? pair.fallback : o[key];
      if (!legacyKeys.has(key) && (value !== undefined || key in o)) merged[pair?.legacy ?? key] = value;
    }
    return merged;
  });
  unitKeyPairs.add(out, { pairs: Object.fromEntries(Object.entries(pairs).map(([k, p]) => [k, p.legacy])) });
  return Object.assign(out, { shape: full, extend: (extra: z.ZodRawShape) => unitObject({ ...shape, ...extra }) }) as unknown as UnitObject<S>;
}

interface Def { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType }
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema under its wrappers, with the unit meta and key pairs found on the way. */
function unwrap(schema: z.ZodType): { def: Def; unit?: UnitFieldMeta; pairs?: Readonly<Record<string, string>> } {
  let cur = schema;
  let pairs: Readonly<Record<string, string>> | undefined;
  for (let i = 0; i < 10; i++) {
    const unit = unitFields.get(cur);
    if (unit) return { def: defOf(cur), unit };
    pairs ??= unitKeyPairs.get(cur)?.pairs;
    const def = defOf(cur);
    const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!next) return { def, pairs };
    cur = next;
  }
  return { def: defOf(cur), pairs };
}

/** The key paired with `key` in the object schema (its legacy key, or the key in units), if any. */
export function pairedKey(objectSchema: z.ZodType, key: string): string | undefined {
  const pairs = unwrap(objectSchema).pairs ?? {};
  return pairs[key] ?? Object.keys(pairs).find((k) => pairs[k] === key);
}

/**
 * A parsed config written back as a config file would say it: every duration, size and rate in
 * units, under its key in units. Loading the result gives the same config.
 */
export function configInUnits(schema: z.ZodType, value: unknown): unknown {
  const { def, unit, pairs } = unwrap(schema);
  if (unit && typeof value === 'number') return formatUnit(unit.kind, value, { unlimited: unit.unlimited });
  if (Array.isArray(value)) return def.element ? value.map((v) => configInUnits(def.element as z.ZodType, v)) : value;
  if (typeof value !== 'object' || value === null) return value;
  const legacyToNew = Object.fromEntries(Object.entries(pairs ?? {}).map(([k, legacy]) => [legacy, k]));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    const key = legacyToNew[k] ?? k;
    const field = def.shape?.[key] ?? def.valueType;
    out[key] = field ? configInUnits(field, v) : v;
  }
  return out;
}
