import { connect } from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import { taskId } from '../../core/index.js';
import { VortexClient } from '../../core/protocol/vortex/vortex-client.js';
import { VORTEX_NONCE_LENGTH, type ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { encodeAuthProofFrame, encodeDownloadPieceFrame, encodeVortexFrame } from '../../core/protocol/vortex/vortex-frames.js';
import { VORTEX_HEADER_LENGTH, type PieceKind } from '../../core/protocol/vortex/vortex-tags.js';
import { startLiveNode } from './live-node.js';

const RUNS = 1000;
const KINDS: PieceKind[] = ['standard', 'persistent', 'persistent-cache', 'cache'];

/**
 * Sends `bytes` and reads the answers until the server closes the connection (`closed`) or stays
 * silent for 150 ms (`quiet`: it waits for the rest of a frame, or has answered everything), then
 * drops it. A Vortex client never half-closes: the server takes that as a goodbye.
 */
function exchange(port: number, bytes: Buffer, auth?: ClusterAuth): Promise<{ received: number; ms: number; ended: 'closed' | 'quiet' }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let received = 0;
    let quiet: NodeJS.Timeout | undefined;
    const settle = (ended: 'closed' | 'quiet') => {
      clearTimeout(quiet);
      s.destroy();
      resolve({ received, ms: Date.now() - started, ended });
    };
    const arm = () => { clearTimeout(quiet); quiet = setTimeout(() => settle('quiet'), 150); };
    // A member answers the server's auth challenge first; a stranger sends its bytes at once.
    let challenge = auth ? Buffer.alloc(0) : undefined;
    const s = connect(port, '127.0.0.1', () => { if (!challenge) s.write(bytes); arm(); });
    s.on('data', (d: Buffer) => {
      if (challenge && auth) {
        challenge = Buffer.concat([challenge, d]);
        const need = VORTEX_HEADER_LENGTH + VORTEX_NONCE_LENGTH;
        if (challenge.length < need) return;
        s.write(Buffer.concat([encodeAuthProofFrame(auth.vortexProof(challenge.subarray(VORTEX_HEADER_LENGTH, need))), bytes]));
        received += challenge.length - need;
        challenge = undefined;
        arm();
        return;
      }
      received += d.length;
      arm();
    });
    s.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err); });
    s.on('close', () => { if (quiet) settle('closed'); });
  });
}

/** The status code of a raw HTTP/1.1 request (0 when the server closed without answering). */
function rawHttp(port: number, text: string): Promise<number> {
  return new Promise((resolve) => {
    let head = '';
    const s = connect(port, '127.0.0.1', () => s.write(text));
    s.setTimeout(5_000, () => s.destroy());
    s.on('data', (d: Buffer) => { if (head.length < 64) head += d.toString('latin1'); });
    s.on('error', () => undefined);
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0)));
  });
}

test('fuzzing a live peer\'s Vortex server with random, mutated and truncated frames, and its piece HTTP endpoint with odd paths and ranges: no 5xx, no crash, no stuck server, every valid request still answered; a normal download works afterwards', async (t) => {
  t.timeout(150_000);
  const node = await startLiveNode(t);
  await node.controlDownload(t);
  const held = taskId({ url: node.origin.urlOf('/control-0.bin') });
  const first = await exchange(node.ports.upload, encodeDownloadPieceFrame(1, { taskId: held, number: 1 }), node.auth);
  t.true(first.received > 100 * 1024, `piece 1 of the control download is served over Vortex (${first.received} bytes, ${first.ended})`);

  const valid = fc.record({
    id: fc.oneof({ weight: 3, arbitrary: fc.constant(held) }, { weight: 1, arbitrary: fc.stringMatching(/^[0-9a-f]{64}$/) }),
    number: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom(2 ** 32 - 1, 2 ** 31)),
    kind: fc.constantFrom(...KINDS),
    packet: fc.integer({ min: 0, max: 255 }),
  }).map((r) => encodeDownloadPieceFrame(r.packet, { taskId: r.id, number: r.number, kind: r.kind }));
  const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(73), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
    .map(([b, flips]) => { const out = Buffer.from(b); for (const [at, v] of flips) out[at % out.length] = v; return out; });
  const truncated = fc.tuple(valid, fc.nat(73)).map(([b, n]) => b.subarray(0, n % b.length));
  const anyTag = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 120 }))
    .map(([id, tag, v]) => encodeVortexFrame(id, tag, Buffer.from(v)));
  const hugeLength = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 69, max: 2 ** 32 - 1 }))
    .map(([id, tag, len]) => { const h = Buffer.alloc(6); h.writeUInt8(id, 0); h.writeUInt8(tag, 1); h.writeUInt32BE(len, 2); return h; });
  const noise = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a));
  const frame = fc.oneof({ weight: 4, arbitrary: valid }, { weight: 2, arbitrary: mutated }, { weight: 1, arbitrary: truncated },
    { weight: 1, arbitrary: anyTag }, { weight: 1, arbitrary: hugeLength }, { weight: 1, arbitrary: noise });
  const connection = fc.array(frame, { minLength: 1, maxLength: 6 }).map((frames) => Buffer.concat(frames));

  // "Answered" is the property here, not "answered fast" (the slow-readers test measures that): a loaded machine gets time.
  const client = new VortexClient({ readTimeoutMs: 15_000, auth: node.auth });
  t.teardown(() => client.close());
  const endings = { closed: 0, quiet: 0 };
  let bytesBack = 0;
  let cases = 0;
  let members = 0;
  await fc.assert(fc.asyncProperty(connection, fc.boolean(), async (bytes, member) => {
    if (member) members += 1;
    const r = await exchange(node.ports.upload, bytes, member ? node.auth : undefined);
    bytesBack += r.received;
    endings[r.ended] += 1;
    if (!node.alive()) throw new Error(`the node died after ${bytes.toString('hex').slice(0, 200)}`);
    if (++cases % 25 === 0) {
      const asked = Date.now();
      let n = 0;
      try {
        const { body } = await client.downloadPiece({ host: '127.0.0.1', port: node.ports.upload }, { taskId: held, number: 1 });
        for await (const chunk of body) n += (chunk as Buffer).length;
      } catch (err) {
        throw new Error(`a valid piece request after ${cases} fuzzed connections failed after ${Date.now() - asked} ms: ${(err as Error).message}`, { cause: err });
      }
      if (n === 0) throw new Error('a valid request got an empty piece');
    }
  }), { numRuns: RUNS, endOnFailure: true, includeErrorInReport: true });

  t.log(`${RUNS} connections, ${members} of them as a member of the cluster (${endings.closed} closed by the server, ${endings.quiet} left waiting for the rest of a frame or done), ${(bytesBack / 2 ** 20).toFixed(0)} MiB of answers; a valid request answered after every 25`);
  const statuses = new Map<number, number>();
  const target = fc.oneof(
    fc.constantFrom('//[', '/pieces/%FF', `/pieces/${held}/99999999999999999999`, `/pieces/${held}/1?x=%`, '*', `/pieces/${held}/-1`),
    fc.tuple(fc.constantFrom(held, 'x'), fc.oneof(fc.nat().map(String), fc.string({ maxLength: 12 }).map(encodeURIComponent))).map(([id, n]) => `/pieces/${id}/${n}`),
  );
  const range = fc.option(fc.oneof(fc.string({ maxLength: 20 }).map((r) => `bytes=${r}`), fc.constantFrom('bytes=-0', 'bytes=0-', 'bytes=99999999999-', 'bytes=5-1', 'bytes=1-2,3-4')));
  await fc.assert(fc.asyncProperty(target, fc.constantFrom('GET', 'HEAD', 'POST'), range, async (path, method, r) => {
    const res = await rawHttp(node.ports.pieceHttp, `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${r ? `Range: ${r.replace(/[\r\n]/g, '')}\r\n` : ''}Connection: close\r\n\r\n`);
    statuses.set(res, (statuses.get(res) ?? 0) + 1);
    if (res >= 500 || res === 0) throw new Error(`${method} ${path} (range ${r}) → ${res}`);
  }), { numRuns: 300, endOnFailure: true, includeErrorInReport: true });
  t.log(`piece HTTP, 300 requests: ${[...statuses].map(([c, n]) => `${c}×${n}`).join(' ')}`);
  t.true(node.alive(), 'the node survived');
  t.log(`control download after the campaign: ${(await node.controlDownload(t)).toFixed(0)} ms`);
});
