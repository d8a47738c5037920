import type { Command } from '../commander.js';
import { renderTable } from '../table.js';
import { addManagerOptions, connectManager, type ManagerConnectionOptions } from '../manager-connection.js';

type Opts = ManagerConnectionOptions & { json?: boolean };

/** `d7y token create|list|revoke`: personal access tokens (console session or `--user`). */
export function registerTokenCommand(program: Command): void {
  const token = program.command('token').description('personal access tokens of the manager');
  addManagerOptions(token.command('create'), true)
    .description('create a personal access token; it is printed once')
    .argument('<name>', 'a name to recognise the token by')
    .option('--scope <scopes>', 'comma-separated scopes: job, cluster, persistent_cache, seed (the seed credential, for schedulers and seed peers)', 'job,cluster,persistent_cache')
    .option('--expires-in-days <days>', 'lifetime in days', '30')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: Opts & { scope: string; expiresInDays: string }) => {
      const client = await connectManager(opts, 'session');
      try {
        const t = await client.createToken({ name, scopes: opts.scope.split(',').map((s) => s.trim()).filter(Boolean), expires_in_days: Number(opts.expiresInDays) });
        if (opts.json) process.stdout.write(`${JSON.stringify(t)}\n`);
        else {
          process.stdout.write(`${t.token}\n`);
          process.stderr.write(`token "${t.name}" (${t.id}) scopes ${t.scopes.join(',')} expires ${t.expires_at}; it is shown only now\n`);
        }
      } finally {
        await client.close();
      }
    });
  addManagerOptions(token.command('list'), true)
    .description('list the tenant\'s tokens (never the tokens themselves)')
    .option('--json', 'print JSON')
    .action(async (opts: Opts) => {
      const client = await connectManager(opts, 'session');
      try {
        const rows = await client.listTokens();
        if (opts.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else process.stdout.write(renderTable(['ID', 'NAME', 'PREFIX', 'SCOPES', 'STATE', 'EXPIRES'],
          rows.map((r) => [r.id, r.name, `${r.prefix}…`, r.scopes.join(','), r.state, r.expires_at])));
      } finally {
        await client.close();
      }
    });
  addManagerOptions(token.command('revoke'), true)
    .description('revoke (delete) a token by id')
    .argument('<id>', 'token id (see d7y token list)')
    .action(async (id: string, opts: Opts) => {
      const client = await connectManager(opts, 'session');
      try {
        await client.revokeToken(id);
        process.stderr.write(`token ${id} revoked\n`);
      } finally {
        await client.close();
      }
    });
}
