import { randomUUID } from 'node:crypto';
import type { ManagerDb } from '../database/manager-database.js';
import { withNextNumber } from '../database/next-number.js';
import type { JobRunTable, JobTable } from '../database/schema.js';

/** A new job and one pending run per scheduler cluster, written in one transaction. */
export async function insertJob(db: ManagerDb, o: {
  tenantId: string; type: JobTable['type']; args: Record<string, unknown>; createdBy: string; timeoutMs: number; clusters: string[];
}, now = Date.now()): Promise<{ job: JobTable; runs: JobRunTable[] }> {
  const id = randomUUID();
  const runs: JobRunTable[] = o.clusters.map((c) => ({
    job_id: id, cluster_id: c, tenant_id: o.tenantId, state: 'pending', scheduler_id: null, result: '[]', error: null,
    deadline_at: now + o.timeoutMs, created_at: now, updated_at: now,
  }));
  const job = await withNextNumber(db, 'jobs', (number) => db.transaction().execute(async (trx) => {
    const row: JobTable = {
      id, tenant_id: o.tenantId, type: o.type, args: JSON.stringify(o.args), created_by: o.createdBy, timeout_ms: o.timeoutMs, created_at: now, updated_at: now, number,
    };
    await trx.insertInto('jobs').values(row).execute();
    await trx.insertInto('job_runs').values(runs).execute();
    return row;
  }));
  return { job, runs };
}
