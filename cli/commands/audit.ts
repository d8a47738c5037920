import type { Command } from '../commander.js';
import { renderTable } from '../table.js';
import { addManagerOptions, connectManager, type ManagerConnectionOptions } from '../manager-connection.js';

/** `d7y audit list`: the manager's audit log, filtered. */
export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('the manager\'s audit log');
  addManagerOptions(audit.command('list'), true)
    .description('list audit records, newest first')
    .option('--actor <name>', 'only calls by this user or token name')
    .option('--actor-type <type>', 'user, pat or unknown')
    .option('--method <method>', 'HTTP method')
    .option('--path <prefix>', 'request path prefix')
    .option('--status <code>', 'HTTP status')
    .option('--failed', 'only refused or failed calls')
    .option('--since <time>', 'ISO time or ms since the epoch')
    .option('--limit <n>', 'at most this many records', '100')
    .option('--json', 'print JSON')
    .action(async (opts: ManagerConnectionOptions & Record<string, string | boolean | undefined>) => {
      const client = await connectManager(opts, 'session');
      try {
        const rows = await client.listAudits({
          actor_name: opts.actor as string | undefined, actor_type: opts.actorType as string | undefined, method: opts.method as string | undefined,
          path: opts.path as string | undefined, status: opts.status as string | undefined, success: opts.failed ? 'false' : undefined,
          since: opts.since as string | undefined, limit: Number(opts.limit),
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else process.stdout.write(renderTable(['TIME', 'ACTOR', 'METHOD', 'PATH', 'STATUS'],
          rows.map((r) => [r.created_at, `${r.actor_type}:${r.actor_name || '-'}`, r.method, r.path, String(r.status)])));
      } finally {
        await client.close();
      }
    });
}
