import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../logging/logger.js';
import type { ConnectTarget } from './connect-target.js';
import { CONNECT_ESTABLISHED, refuseConnect } from './connect-replies.js';

export interface TunnelOptions {
  logger: Logger;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

/** Why a connection to a tunnel's target failed, as the client reads it in the 502 body. */
function failureText(target: ConnectTarget, err: NodeJS.ErrnoException): string {
  const where = `${target.host}:${target.port}`;
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return `cannot resolve ${target.host} (${err.code})`;
    case 'ECONNREFUSED':
      return `${where} refused the connection`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${where} cannot be reached (${err.code})`;
    default:
      return `cannot connect to ${where}: ${err.message}`;
  }
}

/**
 * A TCP tunnel between the CONNECT client `client` and its target: `200 Connection Established`
 * once connected (502 with a short text on a DNS error or refusal, 504 after `connectTimeoutMs`),
 * `head` forwarded first, then bytes both ways untouched. An end or error on either side, or
 * `idleTimeoutMs` with no byte either way, closes both.
 */
export function openTunnel(target: ConnectTarget, client: Duplex, head: Buffer, opts: TunnelOptions): void {
  const { logger } = opts;
  const upstream: Socket = connect({ host: target.host, port: target.port });
  let connected = false;
  const closeBoth = () => {
    upstream.destroy();
    client.destroy();
  };
  const timer = setTimeout(() => {
    logger.debug({ host: target.host, port: target.port }, 'proxy: tunnel connect timed out');
    upstream.destroy();
    refuseConnect(client, 504, `connecting to ${target.host}:${target.port} took more than ${opts.connectTimeoutMs} ms`);
  }, opts.connectTimeoutMs);
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    logger.debug({ host: target.host, port: target.port, err: err.message, code: err.code }, connected ? 'proxy: tunnel target failed' : 'proxy: cannot connect a tunnel');
    if (connected) closeBoth();
    else refuseConnect(client, 502, failureText(target, err));
  });
  client.on('close', () => {
    clearTimeout(timer);
    upstream.destroy();
  });
  upstream.once('connect', () => {
    clearTimeout(timer);
    connected = true;
    if (client.destroyed) return void upstream.destroy();
    client.write(CONNECT_ESTABLISHED);
    if (head.length) upstream.write(head);
    upstream.setTimeout(opts.idleTimeoutMs, () => {
      logger.debug({ host: target.host, port: target.port }, 'proxy: idle tunnel closed');
      closeBoth();
    });
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.on('close', () => client.destroy());
  });
}
