import { resolve } from 'node:path';
import { D7yError } from '../../core/errors/d7y-error.js';
import { DEFAULT_PEER_PROXY, parseProxyAddress, parseRegistries, type ProxyAddress } from './addresses.js';
import { applyChanges, type FileOutcome } from './config-file.js';
import { DEFAULT_CONTAINERD_CONFIG, planContainerd } from './containerd-plan.js';
import { DEFAULT_DOCKER_DIR, planDocker } from './docker-plan.js';
import { DEFAULT_CONTAINERS_DIR, planRegistriesConf } from './registries-conf-plan.js';
import type { RuntimePlan } from './runtime-plan.js';

export const RUNTIMES = ['containerd', 'cri-o', 'podman', 'docker'] as const;
export type Runtime = (typeof RUNTIMES)[number];
const ALIASES: Record<string, Runtime> = { crio: 'cri-o', dockerd: 'docker' };

export interface InitOptions {
  registry?: string[];
  proxy?: string;
  /** A node config whose `peer.proxy.listen` is the mirror (when `proxy` is not given). */
  config?: string;
  configDir?: string;
  containerdConfig?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** What `d7y init --json` prints. */
export interface InitReport {
  runtime: Runtime;
  proxy: string;
  dryRun: boolean;
  /** True when at least one file was (or, in a dry run, would be) written. */
  changed: boolean;
  files: FileOutcome[];
  notes: string[];
  /** The command to run so the runtime reads the new files; null when none is needed. */
  restart: string | null;
}

export function parseRuntime(input: string): Runtime {
  const name = input.toLowerCase();
  const runtime = (RUNTIMES as readonly string[]).includes(name) ? name as Runtime : ALIASES[name];
  if (!runtime) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `unknown container runtime "${input}"`, { fix: `use one of: ${RUNTIMES.join(', ')}` });
  }
  return runtime;
}

async function plan(runtime: Runtime, proxy: ProxyAddress, opts: InitOptions): Promise<RuntimePlan> {
  const configDir = opts.configDir === undefined ? undefined : resolve(opts.configDir);
  const registries = parseRegistries(opts.registry ?? []);
  if (runtime !== 'containerd' && opts.containerdConfig !== undefined) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `--containerd-config is for d7y init containerd, not ${runtime}`, { fix: 'drop --containerd-config' });
  }
  switch (runtime) {
    case 'containerd':
      return planContainerd({ certsDir: configDir, configFile: resolve(opts.containerdConfig ?? DEFAULT_CONTAINERD_CONFIG), proxy, registries });
    case 'cri-o':
    case 'podman':
      return planRegistriesConf({ runtime, containersDir: configDir ?? DEFAULT_CONTAINERS_DIR, proxy, registries });
    case 'docker':
      return planDocker({ configDir: configDir ?? DEFAULT_DOCKER_DIR, proxy, registries });
  }
}

/** Plans and applies (or, dry, only shows) the runtime's mirror config; never restarts anything. */
export async function initRuntime(runtimeInput: string, opts: InitOptions): Promise<InitReport> {
  const runtime = parseRuntime(runtimeInput);
  const proxy = parseProxyAddress(opts.proxy ?? (opts.config ? await configuredProxy(opts.config) : DEFAULT_PEER_PROXY));
  const p = await plan(runtime, proxy, opts);
  const files = await applyChanges(p.changes, { dryRun: opts.dryRun });
  const changed = new Set(files.filter((f) => f.action !== 'unchanged').map((f) => f.path));
  return {
    runtime,
    proxy: proxy.url,
    dryRun: Boolean(opts.dryRun),
    changed: changed.size > 0,
    files,
    notes: p.notes,
    restart: p.restart(changed) ?? null,
  };
}

function render(report: InitReport): string {
  const out: string[] = [];
  if (report.dryRun) {
    for (const f of report.files) if (f.diff) out.push(f.diff.trimEnd());
    if (out.length > 0) out.push('');
  }
  out.push(`${report.runtime}: pull through the d7y mirror at ${report.proxy}${report.dryRun ? ' (dry run: nothing was written)' : ''}`);
  for (const f of report.files) out.push(`  ${f.action.padEnd(13)} ${f.path}${f.backup ? `   (old file kept as ${f.backup})` : ''}`);
  for (const n of report.notes) out.push(`note: ${n}`);
  if (!report.changed) out.push(`nothing to change: ${report.runtime} already uses the mirror; nothing to restart`);
  else if (report.restart) out.push(`${report.dryRun ? 'after writing, run' : 'next, run'}: ${report.restart}`);
  else out.push('no restart needed: the new files are read on the next pull');
  return `${out.join('\n')}\n`;
}

/** `d7y init <runtime> [...]`. */
export async function runInit(runtime: string, opts: InitOptions): Promise<void> {
  const report = await initRuntime(runtime, opts);
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : render(report));
}

/** The proxy address of a node config's peer (loopback when it listens on every address). */
async function configuredProxy(file: string): Promise<string> {
  const { loadRoleConfig } = await import('../role-options.js');
  const { proxy } = (await loadRoleConfig({ config: file })).peer;
  if (!proxy.enabled) {
    throw new D7yError('D7Y_INVALID_ARGUMENT', `the peer of ${file} has its proxy off (peer.proxy.enabled: false), so it has no registry mirror`, {
      fix: 'set peer.proxy.enabled to true in that config and restart the peer, or give --proxy host:port',
    });
  }
  const ip = proxy.listen.ip === '0.0.0.0' || proxy.listen.ip === '::' ? '127.0.0.1' : proxy.listen.ip;
  return `${ip.includes(':') ? `[${ip}]` : ip}:${proxy.listen.port}`;
}
