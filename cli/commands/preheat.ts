import type { Command } from '../commander.js';
import { D7yError } from '../../core/errors/d7y-error.js';
import { parseByteSize } from '../../core/task/piece-length.js';
import { parseDurationFlag } from '../duration-flag.js';
import { addManagerOptions, connectManager, type ManagerConnectionOptions } from '../manager-connection.js';
import { printJob, waitForJob } from './job.js';

interface PreheatOptions extends ManagerConnectionOptions {
  type: 'file' | 'image';
  scope: string;
  count?: string;
  percentage?: string;
  ips?: string;
  pieceLength?: string;
  memory?: boolean;
  wait?: boolean;
  timeout: string;
  tag?: string;
  application?: string;
  platform?: string;
  header?: string[];
  cluster?: string[];
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `d7y preheat <url...>`: a preheat job, optionally followed until it ends. */
export function registerPreheatCommand(program: Command): void {
  addManagerOptions(program.command('preheat'))
    .description('put files or an image on seed peers or peers ahead of demand')
    .argument('<url...>', 'file URLs, or one image manifest URL with --type image')
    .option('--type <type>', 'file or image', 'file')
    .option('--scope <scope>', 'single_seed_peer, all_seed_peers or all_peers', 'single_seed_peer')
    .option('--count <n>', 'only this many peers of the scope')
    .option('--percentage <p>', 'only this percentage of the scope\'s peers (rounded down, at least 1)')
    .option('--ips <list>', 'only these peers (comma-separated IPs)')
    .option('--piece-length <size>', 'piece length, 4MiB..64MiB (changes the task id)')
    .option('--memory', 'keep the pieces in the peers\' memory storage')
    .option('--tag <tag>', 'task tag')
    .option('--application <name>', 'task application')
    .option('--platform <os/arch>', 'image platform, e.g. linux/amd64')
    .option('--header <name:value>', 'request header for the origin (repeatable)', collect)
    .option('--cluster <id>', 'scheduler cluster id (repeatable; default all of the tenant)', collect)
    .option('--wait', 'show progress until the job ends; exit 1 if it fails')
    .option('--timeout <duration>', 'how long the job may take, e.g. 10m (1s..24h)', '1h')
    .option('--json', 'print the job as JSON')
    .action(async (urls: string[], opts: PreheatOptions) => {
      if (opts.type !== 'file' && opts.type !== 'image') {
        throw new D7yError('D7Y_INVALID_ARGUMENT', `--type ${opts.type} is not file or image`, { fix: 'use --type file or --type image' });
      }
      if (opts.type === 'image' && urls.length !== 1) {
        throw new D7yError('D7Y_INVALID_ARGUMENT', 'an image preheat takes one manifest URL', { fix: 'give one oci:// or https://<registry>/v2/<repo>/manifests/<tag> URL' });
      }
      const headers = Object.fromEntries((opts.header ?? []).map((h) => {
        const i = h.indexOf(':');
        if (i <= 0) throw new D7yError('D7Y_INVALID_ARGUMENT', `--header "${h.split(':')[0]}" is not name:value`, { fix: 'write --header "Name: value"' });
        return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
      }));
      const timeoutMs = parseDurationFlag(opts.timeout, '--timeout', { min: 1000, max: 24 * 3600_000 });
      const args: Record<string, unknown> = {
        type: opts.type, ...(urls.length === 1 ? { url: urls[0] } : { urls }), scope: opts.scope, load_to_memory: Boolean(opts.memory),
        timeout: timeoutMs,
        ...(opts.count !== undefined && { count: Number(opts.count) }),
        ...(opts.percentage !== undefined && { percentage: Number(opts.percentage) }),
        ...(opts.ips !== undefined && { ips: opts.ips.split(',').map((s) => s.trim()).filter(Boolean) }),
        ...(opts.pieceLength !== undefined && { piece_length: parseByteSize(opts.pieceLength, '--piece-length') }),
        ...(opts.tag !== undefined && { tag: opts.tag }),
        ...(opts.application !== undefined && { application: opts.application }),
        ...(opts.platform !== undefined && { platform: opts.platform }),
        ...(Object.keys(headers).length && { headers }),
      };
      const client = await connectManager(opts);
      try {
        let job = await client.createJob({ type: 'preheat', args, scheduler_cluster_ids: opts.cluster });
        if (!opts.json) process.stderr.write(`preheat job ${job.id} created (${job.runs.length} cluster(s))\n`);
        if (opts.wait) job = await waitForJob(client, job.id, timeoutMs + 10_000, opts.json);
        printJob(job, Boolean(opts.json));
        if (opts.wait && job.state === 'failed') process.exitCode = 1;
      } finally {
        await client.close();
      }
    });
}
