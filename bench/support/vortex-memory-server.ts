import { Readable } from 'node:stream';
import { VortexServer } from '../../core/protocol/vortex/vortex-server.js';
import type { PieceProvider } from '../../core/protocol/vortex/piece-provider.js';

/**
 * A Vortex server on 127.0.0.1 answering every request with the same piece of `MiB` (argv[2])
 * MiB held in memory, sent in 256 KiB chunks; prints its port and runs until SIGTERM. The
 * `vortex-receive` benchmark runs it in a process of its own.
 */
const data = Buffer.alloc(Number(process.argv[2]) * 2 ** 20, 0x5a);
const CHUNK = 256 * 1024;
const provider: PieceProvider = {
  getPiece: async (req) => ({
    meta: { number: req.number, offset: 0, length: data.length, digest: 'crc32:0', parentId: 'bench', trafficType: 0, cost: 0, createdAt: 0 },
    body: Readable.from((function* () { for (let at = 0; at < data.length; at += CHUNK) yield data.subarray(at, at + CHUNK); })()),
  }),
};
const server = new VortexServer({ host: '127.0.0.1', port: 0, provider });
await server.start();
process.stdout.write(`${server.port}\n`);
process.on('SIGTERM', () => void server.stop().then(() => process.exit(0)));
