import test from 'ava';
import { readdir, readFile, stat, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import { LocalCacheClient } from '../../core/protocol/local-api/local-cache-client.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, testBytes, TEST_PIECE_FLOOR, type DaemonProcess } from './p2p-cluster.js';

const MIB = 1024 * 1024;
const SCHEDULER = { persistentCache: { checkInterval: 500, holderTtl: 3_000 } };
const PEER = { persistentCache: { announceInterval: '500ms' } };

/**
 * `piece` with the bytes at `at` changed and four bytes at `fixAt` chosen so that its crc32 stays
 * the same: a corruption that every piece checksum misses. (crc32 is affine over GF(2): the change
 * of the crc is a linear function of the change of the bytes, and any 32 consecutive bits span it.)
 */
function corruptKeepingCrc(piece: Buffer, at: number, fixAt: number): Buffer {
  const zero = crc32(Buffer.alloc(piece.length));
  const effect = (delta: Buffer): number => (crc32(delta) ^ zero) >>> 0;
  const damage = Buffer.alloc(piece.length);
  damage.write('corrupt bytes on the holder disk', at);
  const basis: { effect: number; bits: number }[] = [];
  for (let bit = 0; bit < 32; bit += 1) {
    const d = Buffer.alloc(piece.length);
    d[fixAt + (bit >> 3)] = 1 << (bit & 7);
    basis.push({ effect: effect(d), bits: (1 << bit) >>> 0 });
  }
  // Gaussian elimination over GF(2): find the fix bits whose effect cancels the damage's.
  let target = effect(damage);
  let fix = 0;
  const rows: { effect: number; bits: number }[] = [];
  for (const b of basis) {
    let e = b.effect;
    let bits = b.bits;
    for (const r of rows) if (((e ^ r.effect) >>> 0) < e) { e = (e ^ r.effect) >>> 0; bits = (bits ^ r.bits) >>> 0; }
    if (e !== 0) rows.push({ effect: e, bits });
    rows.sort((x, y) => y.effect - x.effect);
  }
  for (const r of rows) if (((target ^ r.effect) >>> 0) < target) { target = (target ^ r.effect) >>> 0; fix = (fix ^ r.bits) >>> 0; }
  if (target !== 0) throw new Error('no crc-preserving fix found');
  const out = Buffer.from(piece);
  for (let i = 0; i < piece.length; i += 1) out[i]! ^= damage[i]!;
  for (let bit = 0; bit < 32; bit += 1) if ((fix >>> bit) & 1) out[fixAt + (bit >> 3)]! ^= 1 << (bit & 7);
  return out;
}

async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      const found = await findFile(path, name);
      if (found) return found;
    } else if (e.name === name && path.includes('content')) return path;
  }
  return undefined;
}

function output(d: DaemonProcess): () => string {
  let text = '';
  d.child.stdout?.on('data', (b: Buffer) => { text += b.toString(); });
  d.child.stderr?.on('data', (b: Buffer) => { text += b.toString(); });
  return () => text;
}

test('a holder whose copy went bad on disk (piece checksums intact) passes on no bad bytes: each replica fetched from it fails the whole-file check, is discarded and logged, the scheduler tries another host, and an export refuses the copy', async (t) => {
  t.timeout(180_000);
  const c = await P2PCluster.create(t);
  const scheduler = await c.scheduler('scheduler', SCHEDULER);
  const a = await c.peer('a', { schedulers: [scheduler.address], peer: PEER });
  const bytes = testBytes(3 * TEST_PIECE_FLOOR + 12345, 31);
  const file = join(c.dir, 'weights.bin');
  await writeFile(file, bytes);
  const imported = await runCli(['cache', 'import', file, '--replicas', '2', '--ttl', '1h', '--piece-length', '4MiB', '--socket', a.socket], { timeoutMs: 60_000 });
  t.is(imported.code, 0, imported.stderr);
  const id = imported.stdout.trim();

  // A's copy goes bad on disk in a way its piece checksums (crc32) cannot see.
  const content = (await findFile(a.dataDir, id))!;
  t.truthy(content, 'the holder\'s content file is found');
  t.is((await stat(content)).size, bytes.length);
  const piece = await readFile(content);
  const bad = corruptKeepingCrc(piece, 1000, 5000);
  t.is(crc32(bad), crc32(piece), 'the piece checksum still matches');
  t.not(bad.compare(piece), 0);
  const fh = await open(content, 'r+');
  await fh.write(bad, 0, bad.length, 0);
  await fh.close();

  // Two hosts join: the scheduler places the missing replica on one, then on the other.
  const b = await c.peer('b', { schedulers: [scheduler.address], peer: PEER });
  const logB = output(b);
  const cc = await c.peer('c', { schedulers: [scheduler.address], peer: PEER });
  const logC = output(cc);
  const mismatch = /does not match its content digest/;
  const deadline = Date.now() + 30_000;
  while (!(mismatch.test(logB()) && mismatch.test(logC())) && Date.now() < deadline) await delay(200);
  t.regex(logB(), mismatch, 'b fetched the replica, checked it and discarded it');
  t.regex(logC(), mismatch, 'the scheduler then placed it on c, which discarded it too');
  for (const p of [b, cc]) t.deepEqual(await readdir(join(p.dataDir, 'persistent-cache')), [], `${p.name} keeps no bad copy`);
  const client = new LocalCacheClient(b.socket);
  t.teardown(() => client.close());
  const view = await client.stat(id);
  t.is(view.currentReplicas, 1, 'no host counts as a holder of the bad bytes but the corrupt one itself');

  const out = join(c.dir, 'exported.bin');
  const exported = await runCli(['cache', 'export', id, '-O', out, '--socket', b.socket], { timeoutMs: 60_000 });
  t.not(exported.code, 0);
  t.regex(exported.stderr, /does not match the content digest its import recorded/);
  t.regex(exported.stderr, /d7y cache rm/, 'the error says what to do');
  await t.throwsAsync(stat(out), undefined, 'no output file is left');
  t.deepEqual(await readdir(join(b.dataDir, 'persistent-cache')), []);
});
