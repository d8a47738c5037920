import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { D7yError } from '../../../errors/d7y-error.js';

/** Addresses that are not public: loopback, private, link-local (cloud metadata), shared, unique-local, multicast, unspecified. */
const NOT_PUBLIC = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3]] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 127], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['::ffff:0:0', 96]] as const) NOT_PUBLIC.addSubnet(net, bits, 'ipv6');

const FIX = 'add the host to manager.webhooks.allowedHosts in the manager config, or point the webhook at an allowed host';

function family(addr: string): 'ipv4' | 'ipv6' {
  return isIP(addr) === 6 ? 'ipv6' : 'ipv4';
}

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * The hosts webhooks may reach (manager.webhooks.allowedHosts): names (`*.x` for sub-domains),
 * addresses and CIDRs. `check` refuses a URL whose host is not listed; `resolve` resolves its name
 * and returns the one address to connect to, refusing when that address is neither listed nor a
 * public address reached through a listed name (so a listed name cannot be re-pointed at a
 * private or metadata address).
 */
export class WebhookAllowList {
  private readonly names: string[] = [];
  private readonly addresses = new BlockList();
  private hasAddresses = false;

  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const e = bare(raw.trim().toLowerCase());
      const [net, bits] = e.split('/');
      if (isIP(net!)) {
        const f = family(net!);
        if (bits === undefined) this.addresses.addAddress(net!, f);
        else this.addresses.addSubnet(net!, Number(bits), f);
        this.hasAddresses = true;
      } else {
        this.names.push(e);
      }
    }
  }

  /** The URL's host when it is allowed; throws a D7yError otherwise. */
  check(url: string): URL {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `webhook URL "${url}" is not a URL`, { fix: 'give an http:// or https:// URL' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `webhook URL "${url}" is not http or https`, { fix: 'give an http:// or https:// URL' });
    }
    if (u.username || u.password) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', 'a webhook URL may not carry a user name or password', { fix: 'remove the credentials: payloads are signed with the webhook secret' });
    }
    const host = bare(u.hostname.toLowerCase());
    const allowed = isIP(host) ? this.addressAllowed(host) : this.nameAllowed(host);
    if (!allowed) throw new D7yError('D7Y_PERMISSION_DENIED', `webhook host ${host} is not in the manager's allow-list`, { fix: FIX });
    return u;
  }

  /** The address to connect to for `url`, after DNS; throws a D7yError when no allowed address is found. */
  async resolve(url: string): Promise<{ url: URL; address: string; family: 4 | 6 }> {
    const u = this.check(url);
    const host = bare(u.hostname.toLowerCase());
    if (isIP(host)) return { url: u, address: host, family: isIP(host) as 4 | 6 };
    let found: { address: string; family: number }[];
    try {
      found = await lookup(host, { all: true });
    } catch (err) {
      throw new D7yError('D7Y_PEER_UNAVAILABLE', `webhook host ${host} does not resolve: ${(err as Error).message}`, { cause: err, fix: 'check the webhook URL\'s host name' });
    }
    const ok = found.find((a) => this.addressAllowed(a.address) || !NOT_PUBLIC.check(a.address, family(a.address)));
    if (!ok) {
      throw new D7yError('D7Y_PERMISSION_DENIED', `webhook host ${host} resolves to ${found.map((a) => a.address).join(', ')}, an address the allow-list does not cover`, { fix: FIX });
    }
    return { url: u, address: ok.address, family: ok.family as 4 | 6 };
  }

  private addressAllowed(addr: string): boolean {
    return this.hasAddresses && this.addresses.check(addr, family(addr));
  }

  private nameAllowed(host: string): boolean {
    return this.names.some((n) => n === host || (n.startsWith('*.') && host.endsWith(n.slice(1))));
  }
}
