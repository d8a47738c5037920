import type { Command } from '../commander.js';
import type { JobView, ManagerClient } from '../../core/protocol/manager/index.js';
import { D7yError } from '../../core/errors/d7y-error.js';
import { renderTable } from '../table.js';
import { addManagerOptions, connectManager, type ManagerConnectionOptions } from '../manager-connection.js';
import { parseDurationFlag } from '../duration-flag.js';
import { formatDuration } from '../../core/config/units.js';
import { registerJobSyncCommands } from './job-sync.js';

const POLL_MS = 500;

/** Polls a job until it ends (or `timeoutMs`), reporting each change of state or progress on stderr. */
export async function waitForJob(client: ManagerClient, id: string, timeoutMs: number, quiet = false): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const job = await client.getJob(id);
    const line = `job ${job.id}: ${job.state}, ${job.succeeded_peers} peer(s) done, ${job.failed_peers} failed`;
    if (!quiet && line !== last) process.stderr.write(`${line}\n`);
    last = line;
    if (job.state === 'succeeded' || job.state === 'failed') return job;
    if (Date.now() > deadline) {
      throw new D7yError('D7Y_TIMEOUT', `job ${id} still ${job.state} after ${formatDuration(timeoutMs)}`, { fix: `check it later with d7y job get ${id}` });
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Prints a job: JSON, or a summary and one line per peer result. */
export function printJob(job: JobView, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(job)}\n`);
    return;
  }
  process.stdout.write(`${job.id}  ${job.type}  ${job.state}  created ${job.created_at}\n`);
  if (job.results.length) {
    process.stdout.write(renderTable(['HOST', 'IP', 'STATE', 'URL/TASK', 'DETAIL'], job.results.map((r) => [
      r.hostname, r.ip, r.state, r.url ?? r.task_id ?? '', r.error ?? (r.content_length !== undefined ? `${r.content_length} bytes` : ''),
    ])));
  }
  for (const run of job.runs) if (run.error) process.stdout.write(`cluster ${run.cluster_id}: ${run.error}\n`);
}

/** `d7y job get|list|sync`: jobs of the manager (PAT with scope job). */
export function registerJobCommand(program: Command): void {
  const job = program.command('job').description('manager jobs (preheat, get_task, delete_task) and sync jobs');
  registerJobSyncCommands(job);
  addManagerOptions(job.command('get'))
    .description('show a job with its per-peer results')
    .argument('<id>', 'job id')
    .option('--wait', 'wait until the job ends')
    .option('--timeout <duration>', 'with --wait: longest wait, e.g. 10m', '1h')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: ManagerConnectionOptions & { wait?: boolean; timeout: string; json?: boolean }) => {
      const timeoutMs = parseDurationFlag(opts.timeout, '--timeout');
      const client = await connectManager(opts);
      try {
        const j = opts.wait ? await waitForJob(client, id, timeoutMs, opts.json) : await client.getJob(id);
        printJob(j, Boolean(opts.json));
        if (opts.wait && j.state === 'failed') process.exitCode = 1;
      } finally {
        await client.close();
      }
    });
  addManagerOptions(job.command('list'))
    .description('list jobs, newest first')
    .option('--type <type>', 'preheat, get_task or delete_task')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .action(async (opts: ManagerConnectionOptions & { type?: string; limit: string; json?: boolean }) => {
      const client = await connectManager(opts);
      try {
        const rows = await client.listJobs({ type: opts.type, limit: Number(opts.limit) });
        if (opts.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else process.stdout.write(renderTable(['ID', 'TYPE', 'STATE', 'PEERS OK', 'FAILED', 'CREATED'],
          rows.map((r) => [r.id, r.type, r.state, String(r.succeeded_peers), String(r.failed_peers), r.created_at])));
      } finally {
        await client.close();
      }
    });
}
