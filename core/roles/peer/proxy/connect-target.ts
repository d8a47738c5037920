import { isIP } from 'node:net';
import { D7yError } from '../../../errors/d7y-error.js';

/** The target of a CONNECT request. */
export interface ConnectTarget {
  /** Host name (lower case) or IP address, IPv6 without brackets. */
  host: string;
  port: number;
}

const AUTHORITY = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_.-]+)):(\d{1,5})$/i;

/**
 * The `host:port` (or `[v6]:port`) of a CONNECT request line, or a D7Y_INVALID_ARGUMENT saying
 * what is wrong with it: no port, a port outside 1..65535, or something that is no host.
 */
export function parseConnectTarget(authority: string): ConnectTarget | D7yError {
  const m = AUTHORITY.exec(authority);
  const fix = 'CONNECT to host:port, e.g. CONNECT example.com:443';
  if (!m) return new D7yError('D7Y_INVALID_ARGUMENT', `CONNECT target "${authority.slice(0, 200)}" is not host:port`, { fix });
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return new D7yError('D7Y_INVALID_ARGUMENT', `CONNECT target "${authority}" has port ${m[3]}, outside 1..65535`, { fix });
  const host = (m[1] ?? m[2]).toLowerCase();
  if (m[1] !== undefined && isIP(host) !== 6) return new D7yError('D7Y_INVALID_ARGUMENT', `CONNECT target "${authority}" has "[${host}]", which is not an IPv6 address`, { fix });
  if (m[2] !== undefined && (host.startsWith('.') || host.includes('..'))) return new D7yError('D7Y_INVALID_ARGUMENT', `CONNECT target "${authority}" is not a valid host name`, { fix });
  return { host, port };
}
