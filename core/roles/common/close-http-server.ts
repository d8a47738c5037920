import type { Server } from 'node:http';

/** Closes an HTTP server and every connection it holds; resolves once it is closed. */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
