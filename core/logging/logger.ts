import { pino } from 'pino';
import type { Logger as PinoLogger, LoggerOptions } from 'pino';

export type Logger = PinoLogger;

/** Paths redacted from every log line: secrets never reach a log. */
export const REDACT_PATHS = [
  'password', '*.password', 'token', '*.token', 'secret', '*.secret', 'authorization', '*.authorization',
  'headers.authorization', '*.headers.authorization', 'accessKeySecret', '*.accessKeySecret',
  'sessionToken', '*.sessionToken', 'credentials', '*.credentials',
];

export interface LoggerSettings {
  level?: string;
  name?: string;
  /** Defaults to stderr, so stdout stays free for data (`d7y get -O -`). */
  destination?: number | string;
}

/** A pino logger writing JSON lines to stderr (fd 2) unless told otherwise. */
export function createLogger(settings: LoggerSettings = {}): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? process.env.D7Y_LOG_LEVEL ?? 'info',
    name: settings.name ?? 'd7y',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
  return pino(options, pino.destination({ dest: settings.destination ?? 2, sync: true }));
}

/** A logger that writes nothing, for tests and quiet commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
