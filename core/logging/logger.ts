import { createRequire } from 'node:module';
import { pino } from 'pino';
import type { LogFormat } from './log-levels.js';
import { scrubSecrets } from './scrub-secrets.js';
import type { DestinationStream, Logger as PinoLogger, LoggerOptions } from 'pino';

export type Logger = PinoLogger;

/** Paths redacted from every log line: secrets never reach a log. */
export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'secret', '*.secret', 'authorization', '*.authorization',
  'headers.authorization', '*.headers.authorization', 'accessKeySecret', '*.accessKeySecret',
  'sessionToken', '*.sessionToken', 'credentials', '*.credentials',
];

/**
 * Beyond REDACT_PATHS, at any depth (a config logged whole keeps its secrets): every key that ends
 * like a secret (`rootPassword`, `token`, `accessKeySecret`…), and the password of a URL (`postgres://u:p@h`).
 */
const SECRET_KEY = /(password|token|secret|authorization|credentials)$/i;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@/\s]+@/gi;
const CENSOR = '[redacted]';
const MAX_REDACT_DEPTH = 8;

export interface LoggerSettings {
  level?: string;
  name?: string;
  /** Defaults to `auto`. */
  format?: LogFormat;
  /** Defaults to stderr, so stdout stays free for data (`d7y get -O -`). */
  destination?: number | string;
}

/** A copy of plain objects and arrays with every secret censored; other values as they are. */
function redactDeep(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return value.includes('://') ? value.replace(URL_PASSWORD, `$1${CENSOR}@`) : value;
  if (depth > MAX_REDACT_DEPTH || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1));
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined ? CENSOR : redactDeep(v, depth + 1);
  return out;
}

/** Whether a logger on this destination writes pretty lines. */
export function prettyLogs(format: LogFormat = 'auto', destination: number | string = 2): boolean {
  if (format !== 'auto') return format === 'pretty';
  return destination === 2 && process.stderr.isTTY === true;
}

/**
 * A pino logger writing to stderr (fd 2) unless told otherwise: JSON lines, or (pretty, or auto on
 * a terminal) `HH:MM:SS.mmm LEVEL role: message key=value`. Secrets are redacted in both formats.
 * pino-pretty is loaded only when pretty output is used.
 */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const destination = settings.destination ?? 2;
  const options: LoggerOptions = {
    level: settings.level ?? process.env.D7Y_LOG_LEVEL ?? 'info',
    name: settings.name ?? 'd7y',
    redact: { paths: REDACT_PATHS, censor: CENSOR },
    formatters: { log: (obj) => redactDeep(obj, 0) as Record<string, unknown> },
    hooks: { streamWrite: scrubSecrets },
  };
  const stream: DestinationStream = prettyLogs(settings.format, destination)
    ? prettyStream(destination)
    : pino.destination({ dest: destination, sync: true });
  return pino(options, stream);
}

/** Keys every line has, shown in the line's head rather than as fields. */
const HEAD_KEYS = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'role']);

function fieldValue(v: unknown): string {
  if (typeof v === 'string') return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  if (v instanceof Object && 'message' in v && 'stack' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v) ?? String(v);
}

/** `role: message key=value …` from one log object. */
function messageLine(log: Record<string, unknown>): string {
  const fields = Object.entries(log).filter(([k, v]) => !HEAD_KEYS.has(k) && v !== undefined).map(([k, v]) => `${k}=${fieldValue(v)}`);
  const who = typeof log.role === 'string' ? log.role : typeof log.name === 'string' ? log.name : 'd7y';
  return [`${who}:`, typeof log.msg === 'string' ? log.msg : '', ...fields].filter(Boolean).join(' ');
}

function prettyStream(destination: number | string): DestinationStream {
  const require = createRequire(import.meta.url);
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    destination,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,name,role',
    hideObject: true,
    customPrettifiers: { time: (t: string | object) => String(t) },
    messageFormat: (log: Record<string, unknown>) => messageLine(log),
  });
}

/** A logger that writes nothing, for tests and quiet commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
