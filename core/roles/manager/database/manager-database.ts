import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { D7yError } from '../../../errors/d7y-error.js';
import { managerMigrations } from './migrations.js';
import type { ManagerTables } from './schema.js';

export type ManagerDb = Kysely<ManagerTables>;

export interface ManagerDatabaseOptions {
  /** `postgres://…`; unset selects the embedded SQLite file. */
  url?: string;
  /** SQLite file, relative to dataDir unless absolute. */
  file: string;
  dataDir: string;
  poolSize: number;
}

const INT8_OID = 20;

/** Which database a manager uses, for describe() and logs (never the URL: it may hold a password). */
export function databaseKind(url: string | undefined): 'postgresql' | 'sqlite' {
  return url ? 'postgresql' : 'sqlite';
}

/**
 * Opens the manager's database (PostgreSQL when `url` is set, else SQLite in the data
 * directory) and applies every migration. The caller owns the result and must `destroy()` it.
 */
export async function openManagerDatabase(opts: ManagerDatabaseOptions): Promise<ManagerDb> {
  let db: ManagerDb;
  if (opts.url) {
    if (!/^postgres(ql)?:\/\//.test(opts.url)) {
      throw new D7yError('D7Y_CONFIG_INVALID', 'manager.database.url is not a PostgreSQL URL', {
        fix: 'use postgres://user:password@host:port/database, or remove it to use the embedded SQLite file',
      });
    }
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize,
      connectionTimeoutMillis: 10_000,
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
    });
    pool.on('error', () => undefined);
    // A connection lost while a transaction or query holds it (PostgreSQL restarted) fails that work; pg also emits
    // the error on the client, which the pool listens to only while the client is idle: without this,
    // that event would end the manager instead of the one transaction.
    pool.on('connect', (client) => client.on('error', () => undefined));
    db = new Kysely<ManagerTables>({ dialect: new PostgresDialect({ pool }) });
  } else {
    const file = isAbsolute(opts.file) ? opts.file : join(opts.dataDir, opts.file);
    await mkdir(dirname(file), { recursive: true });
    await ownerOnly(file);
    const sqlite = new Database(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('foreign_keys = ON');
    db = new Kysely<ManagerTables>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  try {
    const { error } = await new Migrator({ db, provider: managerMigrations }).migrateToLatest();
    if (error) throw error;
  } catch (err) {
    await db.destroy().catch(() => undefined);
    throw new D7yError('D7Y_CONFIG_INVALID', `manager database (${databaseKind(opts.url)}) cannot be opened or migrated: ${(err as Error).message}`, {
      cause: err, fix: 'check manager.database.url (server reachable, database exists, user may create tables)',
    });
  }
  return db;
}

/**
 * Creates the SQLite file with mode 0600, or sets an existing one to 0600: it holds the session
 * signing secret. SQLite gives its -wal and -shm files the database file's mode.
 */
async function ownerOnly(file: string): Promise<void> {
  try {
    await writeFile(file, '', { flag: 'a', mode: 0o600 });
    await chmod(file, 0o600);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `manager database file ${file} cannot be created or made private: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: 'run d7y as the owner of the file, or point manager.database.file at a writable place',
    });
  }
}
