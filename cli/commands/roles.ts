import { setFlagsFromString } from 'node:v8';
import { Option, type Command } from '../commander.js';
import { LOG_FORMATS, LOG_LEVELS } from '../../core/logging/log-levels.js';
import type { RoleSpec } from '../../plugins/index.js';
import type { RoleName } from '../../core/index.js';
import type { RoleCommandOptions } from '../role-options.js';

const STOP_TIMEOUT_MS = 15_000;

/**
 * V8's tier-up budget for WebAssembly in a process that runs only peers that are not seeds, 50
 * times its default. undici parses HTTP/1 with llhttp compiled to WebAssembly, and by default V8
 * recompiles the parser with TurboFan after the first response: about 200 ms of CPU on a background
 * thread, while such a peer mostly sends one HEAD per task to the origin. With this budget the
 * parser tiers up after 10–15 of those, or after 32–48 MiB of bodies through undici (a peer going
 * back to the source, or forwarding through its proxy). A seed reads the origin through undici all
 * the time, so its parser tiers up anyway: it keeps V8's default, and compiles on its first pieces.
 */
const PEER_WASM_TIERING_BUDGET = 90_000_000;

/**
 * V8's interrupt budget in daemons on V8 11 (Node 20), 4 times its default of 67,584: a function
 * is optimized with TurboFan after four times as much of its bytecode has run. A daemon's data path
 * runs through many functions that are each only lukewarm, and fewer of them are compiled while the
 * bytes flow (the likely reason for the gain; the compile work was not measured apart). In four
 * interleaved 8-host swarm pairs the peer daemons
 * spent 14.26 instead of 17.01 CPU-s per GiB warm (4 of 4 lower) and 17.34 instead of 18.34 cold
 * (3 of 4); 8 times the default did no better than 4. V8 12 and later (Node 22, 24) tier up through
 * Maglev and count invocations instead; they keep their defaults.
 */
const DAEMON_INTERRUPT_BUDGET = 4 * 67_584;

/**
 * How far V8 lets the heap grow past what survived the last full collection, in a process that
 * runs a seed peer: to twice that (100 %). By default V8 picks the factor from how fast the
 * program allocates on its heap; a seed allocates little there (its origin bytes arrive in
 * undici's socket buffers, outside the heap), and `--trace-gc-verbose` showed factor 1.1. The
 * seed then ran a full collection every 0.1–0.3 s while it fetched (four in 0.55 s of one 8-host
 * run; concurrent marking and sweeping were 30 % of its CPU in `perf`). With this setting, in four
 * interleaved 8-host swarm pairs, the seed spent 0.51–0.59 CPU-s instead of 0.64–0.99 (4 of 4
 * lower) with its anonymous memory unchanged (58–72 MiB).
 */
const SEED_HEAP_GROWING_PERCENT = 100;

/**
 * The V8 flags a daemon sets once its modules are loaded (V8 checks node's code cache against its
 * flags, so built-in modules loaded from then on compile from source): the interrupt budget where
 * V8 has one, the WebAssembly tier-up budget in a process of peers that are not seeds, and the
 * heap's growing factor in a process with a seed peer.
 */
export function daemonV8Flags(specs: Pick<RoleSpec, 'role' | 'config'>[], v8Version = process.versions.v8): string[] {
  const flags: string[] = [];
  if (Number(v8Version.split('.')[0]) < 12) flags.push(`--interrupt-budget=${DAEMON_INTERRUPT_BUDGET}`);
  if (specs.every((s) => s.role === 'peer' && !s.config.peer.seed)) flags.push(`--wasm-tiering-budget=${PEER_WASM_TIERING_BUDGET}`);
  if (specs.some((s) => s.role === 'peer' && s.config.peer.seed)) flags.push(`--heap-growing-percent=${SEED_HEAP_GROWING_PERCENT}`);
  return flags;
}

/**
 * Runs the roles until SIGINT/SIGTERM, then drains them (they stop taking new work; a peer lets
 * its uploads in flight finish, up to peer.drainTimeout) and stops them in reverse order, exiting
 * 0. Role code is loaded here, not at start-up.
 */
async function runUntilSignal(specs: RoleSpec[], opts: RoleCommandOptions): Promise<void> {
  const { quietGrpcLogs, roleLogger } = await import('../role-options.js');
  const { NodeRunner } = await import('../../plugins/index.js');
  await quietGrpcLogs();
  const config = specs[0].config;
  const logger = roleLogger(config);
  logger.debug({ config }, 'node config');
  const runner = new NodeRunner(specs, logger, opts.pluginsFile);
  await runner.compose();
  for (const flag of daemonV8Flags(specs)) setFlagsFromString(flag);
  await runner.start();
  const summary = runner.roles.map((c) => `${c.label}${Object.keys(c.role.describe()).length ? ` ${JSON.stringify(c.role.describe())}` : ''}`);
  process.stderr.write(`d7y: ready: ${summary.join('; ')}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  process.stderr.write(`d7y: ${signal} received, draining\n`);
  const drainMs = Math.max(...specs.map((s) => (s.role === 'peer' ? s.config.peer.drainTimeout : 0)));
  const timer = setTimeout(() => {
    process.stderr.write('d7y: roles did not stop in time, exiting\n');
    process.exit(1);
  }, drainMs + STOP_TIMEOUT_MS);
  timer.unref();
  await runner.drain();
  process.stderr.write('d7y: drained, stopping\n');
  await runner.stop();
  clearTimeout(timer);
  process.stderr.write('d7y: stopped\n');
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (YAML or JSON); D7Y_* environment variables override it')
    .option('--data-dir <dir>', 'where state lives (default ~/.d7y)')
    .option('--plugins-file <file>', 'plugins.json to load (default ./plugins.json, else the shipped one)')
    .addOption(new Option('--log-level <level>', 'log level (beats D7Y_LOG_LEVEL and log.level)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'json lines, pretty lines, or auto: pretty when stderr is a terminal').choices(LOG_FORMATS));
}

export function registerRoleCommands(program: Command): void {
  for (const role of ['manager', 'scheduler', 'peer'] as RoleName[]) {
    const cmd = addCommonOptions(program.command(role))
      .description(`run the ${role} role`)
      .action(async (opts: RoleCommandOptions) => {
        const { loadRoleConfig } = await import('../role-options.js');
        const config = await loadRoleConfig(opts);
        await runUntilSignal([{ role, config, label: role === 'peer' && config.peer.seed ? 'seed-peer' : role }], opts);
      });
    if (role === 'manager') {
      addCommonOptions(cmd.command('reset-password'))
        .description('set a user\'s password in the manager\'s database, offline (a forgotten root password); ends their sessions')
        .option('--user <name>', 'whose password', 'root')
        .option('--password-stdin', 'read the new password from stdin (the first line)')
        .action(async (_opts: unknown, sub: Command) => {
          const { resetManagerPassword } = await import('../manager-reset-password.js');
          await resetManagerPassword(sub.optsWithGlobals());
        });
      addCommonOptions(cmd.command('rotate-secret'))
        .description('replace the session signing secret in the manager\'s database; every console session ends')
        .action(async (_opts: unknown, sub: Command) => {
          const { rotateManagerSecret } = await import('../manager-rotate-secret.js');
          await rotateManagerSecret(sub.optsWithGlobals());
        });
    }
  }
  addCommonOptions(program.command('up'))
    .description('run an all-in-one node: manager, scheduler, seed peer and peer in one process, linked to that manager')
    .action(async (opts: RoleCommandOptions) => {
      const { loadRoleConfig } = await import('../role-options.js');
      const { upRoleSpecs } = await import('../../plugins/index.js');
      await runUntilSignal(upRoleSpecs(await loadRoleConfig(opts)), opts);
    });
}
