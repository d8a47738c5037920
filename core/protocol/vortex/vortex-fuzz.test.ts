import { connect } from 'node:net';
import { Readable } from 'node:stream';
import test from 'ava';
import { D7yError } from '../../errors/d7y-error.js';
import { encodeCloseFrame, encodeDownloadPieceFrame, encodeErrorFrame, encodeVortexFrame, VortexClient, VortexDecoder, VortexServer } from './index.js';
import type { PieceKind, PieceProvider } from './index.js';

/** mulberry32: a small seeded PRNG, so every run throws the same bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED = 0x5eed_d7;
const CONNECTIONS = 600;
const GOOD_TASK = 'cd'.repeat(32);
const KINDS: PieceKind[] = ['standard', 'persistent', 'persistent-cache', 'cache'];

type Ending = 'rejected' | 'closed' | 'either';
interface Plan { bytes: Buffer; frames: number; valid: number; ending: Ending; endWrite: boolean }

function planConnection(rand: () => number): Plan {
  const int = (n: number): number => Math.floor(rand() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const hexId = (): string => Array.from({ length: 64 }, () => '0123456789abcdef'[int(16)]).join('');
  const valid = (): Buffer => encodeDownloadPieceFrame(int(256), { taskId: hexId(), number: int(2 ** 32), kind: KINDS[int(4)] });
  const parts: Buffer[] = [];
  const count = int(12);
  for (let i = 0; i < count; i++) parts.push(valid());
  const header = (tag: number, length: number): Buffer => {
    const h = Buffer.alloc(6);
    h.writeUInt8(int(256), 0);
    h.writeUInt8(tag, 1);
    h.writeUInt32BE(length, 2);
    return h;
  };
  let ending: Ending = 'rejected';
  let endWrite = false;
  switch (int(9)) {
    case 0: parts.push(header(8 + int(246), int(2 ** 32)), bytes(int(64))); break;
    case 1: {
      let length = int(200);
      if (length === 68) length = 2 ** 32 - 1;
      parts.push(header(int(4) * 2, length), bytes(Math.min(length, int(100))));
      break;
    }
    case 2: {
      const id = hexId().split('');
      id[int(64)] = rand() < 0.5 ? 'G' : String.fromCharCode(0x80 + int(128));
      const value = Buffer.alloc(68);
      value.write(id.join(''), 0, 64, 'latin1');
      parts.push(encodeVortexFrame(int(256), int(4) * 2, value));
      break;
    }
    case 3: parts.push(header(1 + int(4) * 2, int(2 ** 32)), bytes(int(80))); break;
    case 4: parts.push(header(255, 0)); break;
    case 5: parts.push(encodeErrorFrame(int(256), int(4) as 0, 'client gave up')); ending = 'closed'; break;
    case 6: parts.push(encodeCloseFrame(int(256))); ending = 'closed'; break;
    case 7: parts.push(bytes(1 + int(100))); ending = 'either'; endWrite = true; break;
    default: parts.push(valid().subarray(0, 1 + int(73))); ending = 'closed'; endWrite = true; break;
  }
  return { bytes: Buffer.concat(parts), frames: count + 1, valid: count, ending, endWrite };
}

interface Outcome { codes: number[]; closed: boolean }

/** Writes the plan in random slices and reads until the server closes (bounded). */
function run(port: number, plan: Plan, rand: () => number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    const decoder = new VortexDecoder({ accept: 'responses' });
    const codes: number[] = [];
    const timer = setTimeout(() => { socket.destroy(); resolve({ codes, closed: false }); }, 8_000);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      for (const ev of decoder.push(chunk)) codes.push(ev.type === 'error' ? ev.code : -1);
    });
    socket.on('close', () => { clearTimeout(timer); resolve({ codes, closed: true }); });
    socket.once('connect', async () => {
      let at = 0;
      while (at < plan.bytes.length && !socket.destroyed && socket.writable) {
        const n = 1 + Math.floor(rand() * 90);
        socket.write(plan.bytes.subarray(at, at + n));
        at += n;
        await new Promise((r) => setImmediate(r));
      }
      if (plan.endWrite && socket.writable) socket.end();
    });
  });
}

test('thousands of random and truncated frames never crash the server nor leak a connection', async (t) => {
  const good = Buffer.from('the piece survives');
  const provider: PieceProvider = {
    async getPiece(req) {
      if (req.taskId !== GOOD_TASK) throw new D7yError('D7Y_TASK_NOT_FOUND', `task ${req.taskId} is not here`);
      return {
        meta: { number: req.number, offset: 0, length: good.length, digest: '', parentId: '', trafficType: 0, cost: 0, createdAt: 0 },
        body: Readable.from([good]),
      };
    },
  };
  const server = new VortexServer({ host: '127.0.0.1', port: 0, provider, idleTimeoutMs: 10_000 });
  await server.start();
  t.teardown(() => server.stop());

  const rand = prng(SEED);
  const plans = Array.from({ length: CONNECTIONS }, () => planConnection(rand));
  const frames = plans.reduce((n, p) => n + p.frames, 0);
  t.true(frames >= 3500, `${frames} frames`);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < plans.length; i += 25) {
    outcomes.push(...await Promise.all(plans.slice(i, i + 25).map((p) => run(server.port, p, rand))));
  }

  let rejected = 0;
  plans.forEach((plan, i) => {
    const { codes, closed } = outcomes[i];
    const where = `connection ${i} (${plan.ending}, ${plan.valid} good requests)`;
    t.true(closed, `${where}: the server closed it`);
    t.deepEqual(codes.slice(0, plan.valid), Array(plan.valid).fill(2), `${where}: each well-formed request got NotFound`);
    const rest = codes.slice(plan.valid);
    if (plan.ending === 'rejected') t.deepEqual(rest, [1], `${where}: one InvalidArgument error frame`);
    else if (plan.ending === 'closed') t.deepEqual(rest, [], `${where}: closed without an error frame`);
    else t.true(rest.every((c) => c === 1) && rest.length <= 1, `${where}: at most one InvalidArgument frame`);
    if (rest[0] === 1) rejected += 1;
  });
  t.true(rejected > CONNECTIONS / 3, `${rejected} connections rejected`);

  const deadline = Date.now() + 5_000;
  while (server.openConnections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.is(server.openConnections, 0);
  t.is(server.acceptedConnections, CONNECTIONS);

  const client = new VortexClient({ readTimeoutMs: 5_000 });
  t.teardown(() => client.close());
  const { meta, body } = await client.downloadPiece({ host: '127.0.0.1', port: server.port }, { taskId: GOOD_TASK, number: 3 });
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  t.is(meta.number, 3);
  t.true(Buffer.concat(chunks).equals(good));
});
