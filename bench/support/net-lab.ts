import { run } from './processes.js';
import type { Teardown } from './teardown.js';

/** One simulated machine: a network namespace with one shaped link, or plain loopback. */
export interface LabHost {
  name: string;
  /** The address other hosts reach this one at. */
  ip: string;
  /** Host index: 0 is the origin; used to give each host its own ports on loopback. */
  index: number;
  /** The namespace, or undefined on loopback. */
  ns?: string;
}

export interface NetLabOptions {
  clients: number;
  /** Link rate of every client host, Mbit/s. */
  rateMbit: number;
  /** Link rate of the origin host, Mbit/s. */
  originRateMbit: number;
  /**
   * Rate between the origin server and what runs beside it on the origin host (a seed peer), Mbit/s:
   * the origin host's loopback is shaped like a link (an origin that is not on the seed's machine).
   * Unset: loopback speed.
   */
  originFetchRateMbit?: number;
}

const SUBNET = '10.231.0';

/** `cmd args` run inside the host's namespace (unchanged on loopback). */
export function inHost(host: LabHost, cmd: string, args: string[]): [string, string[]] {
  return host.ns ? ['ip', ['netns', 'exec', host.ns, cmd, ...args]] : [cmd, args];
}

/**
 * An origin and N client hosts, each a network namespace whose veth ends on a bridge that lives
 * in its own namespace; both directions of every link are shaped with `tc tbf`. Addresses exist
 * only inside these namespaces. Without root or netns support it falls back to loopback without
 * shaping and says why in `fallbackReason`. Every namespace is deleted at teardown.
 */
export class NetLab {
  private constructor(
    readonly origin: LabHost,
    readonly clients: LabHost[],
    readonly shaped: boolean,
    readonly fallbackReason?: string,
  ) {}

  static async create(teardown: Teardown, opts: NetLabOptions): Promise<NetLab> {
    const prefix = `d7yb${process.pid}`;
    const why = await netnsUnavailable(`${prefix}-probe`);
    if (why) {
      const lo = (i: number): LabHost => ({ name: i === 0 ? 'origin' : `h${i}`, ip: '127.0.0.1', index: i });
      return new NetLab(lo(0), Array.from({ length: opts.clients }, (_, i) => lo(i + 1)), false, why);
    }
    const br = `${prefix}-br`;
    await run('ip', ['netns', 'add', br]);
    teardown.add(`delete namespace ${br}`, () => run('ip', ['netns', 'del', br]).then(() => undefined));
    await run('ip', ['-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    await run('ip', ['-n', br, 'link', 'set', 'br0', 'up']);
    const hosts: LabHost[] = [];
    for (let i = 0; i <= opts.clients; i += 1) {
      const host: LabHost = { name: i === 0 ? 'origin' : `h${i}`, ip: `${SUBNET}.${i + 1}`, index: i, ns: `${prefix}-${i === 0 ? 'o' : `h${i}`}` };
      const ns = host.ns!;
      await run('ip', ['netns', 'add', ns]);
      teardown.add(`delete namespace ${ns}`, () => run('ip', ['netns', 'del', ns]).then(() => undefined));
      await run('ip', ['-n', br, 'link', 'add', `v${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await run('ip', ['-n', br, 'link', 'set', `v${i}`, 'master', 'br0']);
      await run('ip', ['-n', br, 'link', 'set', `v${i}`, 'up']);
      await run('ip', ['-n', ns, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
      await run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const rate = `${i === 0 ? opts.originRateMbit : opts.rateMbit}mbit`;
      const tbf = ['root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '50ms'];
      await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'eth0', ...tbf]);
      await run('tc', ['-n', br, 'qdisc', 'add', 'dev', `v${i}`, ...tbf]);
      if (i === 0 && opts.originFetchRateMbit !== undefined) {
        // Link-sized packets, so the loopback's token bucket shapes like a link's.
        await run('ip', ['-n', ns, 'link', 'set', 'lo', 'mtu', '1500']);
        await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'tbf', 'rate', `${opts.originFetchRateMbit}mbit`, 'burst', '256kb', 'latency', '50ms']);
      }
      hosts.push(host);
    }
    return new NetLab(hosts[0]!, hosts.slice(1), true);
  }

  /** Bytes sent so far on the origin's link (undefined on loopback). */
  originTxBytes(): Promise<number | undefined> {
    return this.txBytes(this.origin);
  }

  /** Bytes sent so far on a host's link (undefined on loopback). */
  async txBytes(host: LabHost): Promise<number | undefined> {
    return (await this.txCounters(host))?.bytes;
  }

  /**
   * Bytes and packets sent so far on a host's link (undefined on loopback). The bytes include each
   * packet's Ethernet, IP and TCP headers (LINK_HEADER_BYTES; one set per packet the kernel hands
   * the link, a segmentation-offload packet carrying several segments counted once).
   */
  async txCounters(host: LabHost): Promise<{ bytes: number; packets: number } | undefined> {
    if (!host.ns) return undefined;
    const out = JSON.parse(await run('ip', ['-n', host.ns, '-s', '-j', 'link', 'show', 'eth0'])) as
      { stats64?: { tx?: { bytes?: number; packets?: number } } }[];
    const tx = out[0]?.stats64?.tx;
    return tx?.bytes === undefined || tx.packets === undefined ? undefined : { bytes: tx.bytes, packets: tx.packets };
  }

  /** TCP segments a host has retransmitted so far (`RetransSegs` of its namespace; undefined on loopback). */
  async retransmittedSegments(host: LabHost): Promise<number | undefined> {
    if (!host.ns) return undefined;
    const rows = (await run('ip', ['netns', 'exec', host.ns, 'cat', '/proc/net/snmp'])).split('\n').filter((l) => l.startsWith('Tcp:'));
    const [names, values] = rows.map((l) => l.trim().split(/\s+/));
    const at = names?.indexOf('RetransSegs') ?? -1;
    return at > 0 && values?.[at] !== undefined ? Number(values[at]) : undefined;
  }
}

/** MSS of a lab link's TCP segments (MTU 1500 less IPv4 and TCP with timestamps). */
export const LINK_MSS = 1448;

/** Ethernet (14), IPv4 (20) and TCP with timestamps (32) header bytes of one packet on a lab link. */
export const LINK_HEADER_BYTES = 66;

async function netnsUnavailable(probe: string): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'not running as root';
  try {
    await run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `network namespaces are not available (${(err as Error).message.split('\n')[0]})`;
  }
  await run('ip', ['netns', 'del', probe]).catch(() => undefined);
  try {
    await run('tc', ['qdisc', 'show'], 5_000);
  } catch {
    return 'tc is not available';
  }
  return undefined;
}
