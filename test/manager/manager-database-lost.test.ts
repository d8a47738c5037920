import test from 'ava';
import { sql } from 'kysely';
import pg from 'pg';
import { openManagerDatabase } from '../../core/roles/manager/database/manager-database.js';
import { tmpDir } from '../support/env.js';
import { startPostgres } from '../support/postgres.js';

test('a PostgreSQL connection lost while a transaction holds it fails that transaction only: the manager process lives on and the next query gets a new connection', async (t) => {
  const server = await startPostgres();
  t.teardown(() => server.stop());
  const db = await openManagerDatabase({ url: await server.createDatabase('lost'), file: 'unused.db', dataDir: await tmpDir(t, 'd7y-db-lost-'), poolSize: 2 });
  t.teardown(() => db.destroy());
  const crashes: Error[] = [];
  const onCrash = (err: Error): void => void crashes.push(err);
  process.on('uncaughtException', onCrash);
  t.teardown(() => void process.off('uncaughtException', onCrash));

  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  t.teardown(() => admin.end());
  // The connection breaks while a transaction holds it between two statements (no query running on it).
  const cut = db.transaction().execute(async (trx) => {
    const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
    await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
    await new Promise((r) => setTimeout(r, 300));
    await sql`select 1`.execute(trx);
  });
  await t.throwsAsync(cut, undefined, 'the transaction whose connection was cut fails');
  await new Promise((r) => setTimeout(r, 200));
  t.deepEqual(crashes.map((e) => e.message), [], 'no error escaped to the process');
  const { rows } = await sql<{ one: number }>`select 1 as one`.execute(db);
  t.is(rows[0]?.one, 1, 'the next query runs on a new connection');
});
