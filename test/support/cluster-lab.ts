import { mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inHost, type LabHost } from '../../bench/support/net-lab.js';
import { run, startProcess, waitUntil, type BenchProcess } from '../../bench/support/processes.js';
import type { Teardown } from '../../bench/support/teardown.js';

/** One machine of the lab: a network namespace with one address, and its own folders. */
export interface ClusterHost extends LabHost {
  ns: string;
  /** `<workDir>/<name>`: its /etc/d7y is `<root>/etc`, its /var/lib/d7y is `<root>/data`. */
  root: string;
}

const SUBNET = '10.232.0';
/** The folders each d7y host sees as its own, as a pod sees its volumes. */
const MOUNTS = ['/etc/d7y', '/var/lib/d7y'] as const;

/**
 * Machines as network namespaces on one bridge (each link shaped with `tc tbf` at its rate), with
 * private addresses that exist only inside them and an /etc/hosts (`/etc/netns/<ns>/hosts`) that
 * gives them the names the Kubernetes manifests use. A d7y process runs in its host's namespace,
 * with its own mount and UTS namespaces in which `<root>/etc` is /etc/d7y, `<root>/data` is
 * /var/lib/d7y and the host name is the host's: what a container of the manifests sees. Every
 * namespace, hosts file and folder made here is removed at teardown. Needs root.
 */
export class ClusterLab {
  readonly hosts = new Map<string, ClusterHost>();
  private readonly prefix = `d7yc${process.pid % 100_000}`;

  private constructor(private readonly teardown: Teardown, private readonly workDir: string) {}

  /** `names[i]` gets `10.232.0.<i+2>`; `aliases` adds host names (a Service's) to a host's address in every hosts file. */
  static async create(teardown: Teardown, workDir: string, hosts: { name: string; rateMbit: number; aliases?: string[] }[]): Promise<ClusterLab> {
    const lab = new ClusterLab(teardown, workDir);
    await lab.prepareMountPoints();
    const br = `${lab.prefix}-br`;
    await run('ip', ['netns', 'add', br]);
    teardown.add(`delete namespace ${br}`, () => run('ip', ['netns', 'del', br]).then(() => undefined));
    await run('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
    const entries = hosts.map((h, i) => `${SUBNET}.${i + 2} ${h.name} ${(h.aliases ?? []).join(' ')}`.trim());
    for (const [i, h] of hosts.entries()) {
      const host: ClusterHost = { name: h.name, ip: `${SUBNET}.${i + 2}`, index: i, ns: `${lab.prefix}-${h.name}`, root: join(workDir, h.name) };
      await run('ip', ['netns', 'add', host.ns]);
      teardown.add(`delete namespace ${host.ns}`, () => run('ip', ['netns', 'del', host.ns]).then(() => undefined));
      const etc = `/etc/netns/${host.ns}`;
      await mkdir(etc, { recursive: true });
      teardown.add(`remove ${etc}`, () => rm(etc, { recursive: true, force: true }));
      await writeFile(join(etc, 'hosts'), `127.0.0.1 localhost\n${entries.join('\n')}\n`);
      await run('ip', ['-n', br, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns]);
      await run('ip', ['-n', br, 'link', 'set', `v${i}`, 'master', 'br0']);
      await run('ip', ['-n', br, 'link', 'set', `v${i}`, 'up']);
      await run('ip', ['-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', host.ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
      const tbf = ['root', 'tbf', 'rate', `${h.rateMbit}mbit`, 'burst', '256kb', 'latency', '50ms'];
      await run('tc', ['-n', host.ns, 'qdisc', 'add', 'dev', 'eth0', ...tbf]);
      await run('tc', ['-n', br, 'qdisc', 'add', 'dev', `v${i}`, ...tbf]);
      await mkdir(join(host.root, 'etc'), { recursive: true });
      await mkdir(join(host.root, 'data'), { recursive: true });
      lab.hosts.set(h.name, host);
    }
    return lab;
  }

  host(name: string): ClusterHost {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  }

  /**
   * Starts `cmd args` on the host as its container would run: in its namespace, its folders
   * mounted on /etc/d7y and /var/lib/d7y, its name as host name. The PID is the command's (each
   * wrapper execs), so a SIGKILL hits the command itself. Output goes to `<workDir>/<label>.log`.
   */
  start(hostName: string, label: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): BenchProcess & { logFile: string } {
    const host = this.host(hostName);
    const script = 'hostname "$0" && mount --bind "$1" /etc/d7y && mount --bind "$2" /var/lib/d7y && shift 2 && exec "$@"';
    const [c, a] = inHost(host, 'unshare', ['--mount', '--uts', '--propagation', 'private', 'sh', '-c', script,
      host.name, join(host.root, 'etc'), join(host.root, 'data'), cmd, ...args]);
    const logFile = join(this.workDir, `${label}.log`);
    return { ...startProcess(this.teardown, label, c, a, { logFile, env, cwd: host.root }), logFile };
  }

  /** Runs a command to completion in the host's network namespace and returns its stdout. */
  exec(hostName: string, cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
    const [c, a] = inHost(this.host(hostName), cmd, args);
    return run(c, a, timeoutMs);
  }

  /** `GET url` from inside the host: its status and body. */
  async httpGet(hostName: string, url: string): Promise<{ status: number; body: string }> {
    const out = await this.exec(hostName, 'curl', ['-s', '--max-time', '3', '-w', '\n%{http_code}', url]).catch(() => '\n0');
    const at = out.lastIndexOf('\n');
    return { status: Number(out.slice(at + 1)), body: out.slice(0, at) };
  }

  async link(hostName: string, state: 'up' | 'down'): Promise<void> {
    await run('ip', ['-n', this.host(hostName).ns, 'link', 'set', 'eth0', state]);
  }

  /** Bytes received (`rx`) or sent (`tx`) so far on the host's link. */
  async linkBytes(hostName: string, dir: 'rx' | 'tx'): Promise<number> {
    const out = JSON.parse(await run('ip', ['-n', this.host(hostName).ns, '-s', '-j', 'link', 'show', 'eth0'])) as { stats64: Record<string, { bytes: number }> }[];
    return out[0]!.stats64[dir]!.bytes;
  }

  /** Waits for the `d7y: ready` line of a d7y process's log. */
  async ready(p: BenchProcess & { logFile: string }, timeoutMs = 60_000): Promise<string> {
    let banner = '';
    await waitUntil(`${p.name} ready`, async () => {
      if (p.child.exitCode !== null) throw new Error(`${p.name} exited (${p.child.exitCode}): ${(await readFile(p.logFile, 'utf8').catch(() => '')).slice(-2000)}`);
      banner = /d7y: ready.*/.exec(await readFile(p.logFile, 'utf8').catch(() => ''))?.[0] ?? '';
      return banner !== '';
    }, timeoutMs, 100);
    return banner;
  }

  /** /etc/d7y and /var/lib/d7y must exist to be mounted on; those made here are removed at teardown when empty. */
  private async prepareMountPoints(): Promise<void> {
    for (const dir of MOUNTS) {
      if (existsSync(dir)) continue;
      await mkdir(dir, { recursive: true });
      this.teardown.add(`remove ${dir}`, () => rmdir(dir).catch(() => undefined));
    }
  }
}

/** Why the lab cannot run here, or undefined when it can (root, network namespaces, tc). */
export async function clusterLabUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root';
  const probe = `d7yc-probe-${process.pid}`;
  try {
    await run('ip', ['netns', 'add', probe]);
    await run('ip', ['netns', 'del', probe]);
    await run('tc', ['qdisc', 'show'], 5_000);
  } catch (err) {
    return `network namespaces or tc are not available: ${(err as Error).message.split('\n')[0]}`;
  }
  return undefined;
}
