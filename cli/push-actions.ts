import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { D7yError } from '../core/errors/d7y-error.js';
import type { CachePushOutcome, CachePushRequest } from '../core/protocol/local-api/cache-api.js';
import type { LocalCacheClient } from '../core/protocol/local-api/local-cache-client.js';
import { MAX_TTL_FLAG, withClient, type CacheCommandOptions } from './cache-actions.js';
import { parseDurationFlag } from './duration-flag.js';
import { humanDuration } from './get-progress.js';
import { humanBytes, renderTable } from './table.js';

export interface PushOptions extends CacheCommandOptions {
  to: string;
  id?: string;
  ttl: string;
  tag?: string;
  application?: string;
  timeout: string;
}

/** `--to`: `all`, a count (`3`), a percentage (`50%`) or comma-separated IPs, as preheat's scopes. */
export function parseScope(text: string): Omit<CachePushRequest, 'id'> {
  const t = text.trim();
  if (t === 'all') return { all: true };
  if (/^\d+$/.test(t) && Number(t) >= 1 && Number(t) <= 100_000) return { count: Number(t) };
  if (/^\d+%$/.test(t) && Number(t.slice(0, -1)) >= 1 && Number(t.slice(0, -1)) <= 100) return { percentage: Number(t.slice(0, -1)) };
  const ips = t.split(',').map((s) => s.trim()).filter(Boolean);
  if (ips.length > 0 && ips.every((ip) => isIP(ip) !== 0)) return { ips };
  throw new D7yError('D7Y_INVALID_ARGUMENT', `--to ${text} is not a scope`, {
    fix: 'give --to all, a number of peers (--to 3), a percentage of them (--to 50%), or their IPs (--to 10.0.0.5,10.0.0.6)',
  });
}

/** One peer's line of the report. */
interface PeerReport extends CachePushOutcome {
  outcome: 'fetched' | 'already held' | 'refused' | 'timed out';
  seconds?: number;
}

/** Waits until every peer that accepted holds a copy (the scheduler's stat lists it), bounded by `timeoutMs`. */
async function confirm(c: LocalCacheClient, taskId: string, outcomes: CachePushOutcome[], started: number, timeoutMs: number): Promise<PeerReport[]> {
  const reports: PeerReport[] = outcomes.map((o) => ({ ...o, outcome: !o.ok ? 'refused' : o.alreadyHeld ? 'already held' : 'timed out' }));
  const waiting = () => reports.filter((r) => r.outcome === 'timed out' && r.seconds === undefined);
  while (waiting().length > 0 && Date.now() - started < timeoutMs) {
    const holders = new Set(((await c.stat(taskId)).holders ?? []).filter((h) => h.persistent).map((h) => h.hostId));
    for (const r of waiting()) {
      if (holders.has(r.hostId)) {
        r.outcome = 'fetched';
        r.seconds = (Date.now() - started) / 1000;
      }
    }
    if (waiting().length > 0) await delay(200);
  }
  return reports;
}

/**
 * `d7y push <path> --to <scope>`: imports the file into the persistent cache of the local daemon,
 * has the scheduler ask the peers of the scope to fetch a copy now, and reports each peer's
 * outcome once it holds the copy (or refused, or did not within --timeout). Exit 1 unless every
 * peer holds it.
 */
export async function runPush(path: string, opts: PushOptions): Promise<void> {
  const scope = parseScope(opts.to);
  const ttlMs = parseDurationFlag(opts.ttl, '--ttl', { max: MAX_TTL_FLAG });
  const timeoutMs = parseDurationFlag(opts.timeout, '--timeout');
  await withClient(opts, async (c) => {
    const task = await c.import({ path: resolve(path), id: opts.id, replicas: 1, ttlMs, tag: opts.tag, application: opts.application });
    if (task.currentReplicas === undefined) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'the daemon has no scheduler, so it has no other peers to push to', {
        fix: 'give the peer schedulers (peer.schedulers or peer.manager in its config), or use d7y up',
      });
    }
    const started = Date.now();
    const { taskId, outcomes } = await c.push({ id: task.taskId, ...scope });
    if (outcomes.length === 0) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `no peer other than this one matches --to ${opts.to}`, {
        fix: 'check the scope: the peers must be running and registered with the same scheduler (d7y cache stat shows the holders)',
      });
    }
    const reports = await confirm(c, taskId, outcomes, started, timeoutMs);
    const failed = reports.filter((r) => r.outcome === 'refused' || r.outcome === 'timed out').length;
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ taskId, size: task.contentLength, peers: reports.map(({ hostId, ip, hostname, outcome, seconds, error }) => ({ hostId, ip, hostname, outcome, seconds, error })) }, null, 2)}\n`);
    } else {
      process.stdout.write(renderTable(['PEER', 'IP', 'OUTCOME'], reports.map((r) => [
        r.hostname, r.ip,
        r.outcome === 'fetched' ? `fetched in ${humanDuration(r.seconds ?? 0)}` : r.outcome === 'refused' ? `refused: ${r.error ?? 'unknown'}` : r.outcome === 'timed out' ? `no copy within ${opts.timeout}` : r.outcome,
      ])));
      process.stderr.write(`d7y push: ${humanBytes(task.contentLength)} as ${taskId} on ${reports.length - failed} of ${reports.length} peers\n`);
    }
    if (failed > 0) process.exitCode = 1;
  });
}
