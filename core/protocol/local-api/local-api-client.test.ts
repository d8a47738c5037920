import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { LocalApiClient } from './local-api-client.js';

test('a request whose kept-alive connection the daemon drops is sent again on a new connection, even when every idle one is dropped', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'd7y-local-api-client-'));
  const socketPath = join(dir, 'peer.sock');
  const used = new WeakSet<Socket>();
  let dropReused = false;
  let dropped = 0;
  const server: Server = createServer((req, res) => {
    const socket = req.socket;
    if (dropReused && used.has(socket)) {
      dropped += 1;
      socket.destroy();
      return;
    }
    used.add(socket);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'peer-1' }));
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const client = new LocalApiClient(socketPath);
  t.teardown(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  // Two requests at once leave two idle kept-alive connections.
  t.deepEqual(await Promise.all([client.peer(), client.peer()]), [{ id: 'peer-1' }, { id: 'peer-1' }]);
  dropReused = true;
  t.deepEqual(await client.peer(), { id: 'peer-1' }, 'the request is answered although its first connection was dropped');
  t.is(dropped, 1, 'it was sent once on the dropped connection, then on a new one');
});
