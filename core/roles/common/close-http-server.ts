import type { Server } from 'node:http';

/** Stops an HTTP server at once: no new connections, every open one (idle or busy) closed; resolves when it is closed. */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
