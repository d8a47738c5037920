import { connect, isIP } from 'node:net';
import type { NetConnectOpts, Socket, TcpNetConnectOpts } from 'node:net';
import { connect as connectTls, TLSSocket } from 'node:tls';
import type { NodeTls } from '../tls/node-tls.js';

/**
 * Takes the bytes of one read. The chunk is a view of a read buffer shared by many sockets and is
 * valid only during the call; return false to pause the socket (resume it with `socket.resume()`).
 */
export type ReadHandler = (chunk: Buffer) => boolean | void;

/**
 * Where a socket's next read may land instead of the shared read buffer: `target` gives a view of
 * the reader's own memory (undefined: the shared buffer), and `landed` is told how many bytes a read
 * put at the start of the last view given; return false to pause the socket. A view must stay the
 * reader's until that read comes or the socket is destroyed.
 */
export interface DirectReads {
  target(): Buffer | undefined;
  landed(bytes: number): boolean | void;
}

const handlers = new WeakMap<Socket, ReadHandler>();
const directs = new WeakMap<Socket, DirectReads>();

/** The descriptor of a plain TCP socket (undefined for TLS, or a socket without one). */
export function plainSocketFd(socket: Socket): number | undefined {
  if (socket instanceof TLSSocket) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * A TLS connection (see NodeTls) whose decrypted reads go to the handler set with `onReads` (each
 * chunk a buffer of its own; TLS has no reads into a caller's buffer). It is ready on
 * `secureConnect`. Bytes arriving while no handler is set are unsolicited: the socket is destroyed.
 */
export function connectTlsReads(opts: TcpNetConnectOpts, tls: NodeTls): Socket {
  const socket = connectTls({ ...opts, ...tls.clientOptions(), ...(isIP(opts.host ?? '') ? {} : { servername: opts.host }) });
  socket.on('data', (chunk: Buffer) => {
    const handler = handlers.get(socket);
    if (!handler) socket.destroy();
    else if (handler(chunk) === false) socket.pause();
  });
  return socket;
}

/**
 * Connects a socket whose reads land in `buffer` (no allocation per read), or in the view the
 * reader's DirectReads gives, and go to what `onReads` set. Bytes arriving while no handler is set
 * are unsolicited: the socket is destroyed.
 */
export function connectReusingBuffer(opts: NetConnectOpts, buffer: Buffer): Socket {
  let socket: Socket | undefined;
  socket = connect({
    ...opts,
    onread: {
      // Asked once when the socket is set up, then after each read, for the next read's buffer.
      buffer: () => (socket && directs.get(socket)?.target()) ?? buffer,
      callback: (nread: number, buf: Uint8Array): boolean => {
        const s = socket as Socket;
        const handler = handlers.get(s);
        if (!handler) {
          s.destroy();
          return false;
        }
        if (buf !== buffer) {
          const direct = directs.get(s);
          if (direct) return direct.landed(nread) !== false;
        }
        return handler((buf as Buffer).subarray(0, nread)) !== false;
      },
    },
  });
  return socket;
}

/**
 * Routes the socket's reads to `handler` (undefined: none expected), and lets them land where
 * `direct` says while it gives a view (sockets of `connectReusingBuffer` only).
 */
export function onReads(socket: Socket, handler: ReadHandler | undefined, direct?: DirectReads): void {
  if (handler) handlers.set(socket, handler);
  else handlers.delete(socket);
  if (handler && direct) directs.set(socket, direct);
  else directs.delete(socket);
}
