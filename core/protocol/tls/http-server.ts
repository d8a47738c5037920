import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { NodeTls } from './node-tls.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * An HTTP server, or an HTTPS one following `tls` (its certificates reloaded for new connections,
 * refused handshakes logged as `what`). Both are `http.Server`s to their callers.
 */
export function createNodeHttpServer(tls: NodeTls | undefined, what: string, options: ServerOptions = {}, handler?: Handler): Server {
  if (!tls) return handler ? createHttpServer(options, handler) : createHttpServer(options);
  const server = createHttpsServer({ ...options, ...tls.serverOptions() }, handler);
  tls.attach(server, what);
  return server as unknown as Server;
}

/** `http` or `https`, as a server made by createNodeHttpServer with `tls` speaks. */
export function schemeOf(tls: NodeTls | undefined): 'http' | 'https' {
  return tls ? 'https' : 'http';
}
