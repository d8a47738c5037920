import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startOriginServer } from '../support/origin-server.js';

// The swarm benchmark's `node-relay` floor: its CPU per GiB only means something if every
// client ends with the file, byte for byte, and the origin is read once.
const script = fileURLToPath(new URL('../../bench/support/relay-floor.js', import.meta.url));

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => r(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): { pid: number; exited: Promise<{ code: number | null; stderr: string }>; kill: () => void } {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<{ code: number | null; stderr: string }>((r) => child.once('close', (code) => r({ code, stderr })));
  return { pid: child.pid!, exited, kill: () => { if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL'); } };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

for (const env of [{ name: 'sent on from memory', fromDisk: '0', native: '0' }, { name: 'sent on from the file', fromDisk: '1', native: '0' },
  { name: 'moved by the native path', fromDisk: '0', native: '1' }]) {
  test.serial(`every client of the node-relay floor ends with the whole file, its part ${env.name}; the origin serves each byte once`, async (t) => {
    const size = 3 * 1024 * 1024 + 7; // parts of unequal length
    const data = randomBytes(size);
    const origin = await startOriginServer(t, { files: { '/data.bin': data } });
    const dir = await mkdtemp(join(tmpdir(), 'relay-floor-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const [seedPort, ...clientPorts] = await freePorts(4);
    const clients = clientPorts.map((p) => `127.0.0.1:${p}`).join(',');
    const seed = start(['seed', `127.0.0.1:${seedPort}`, origin.urlOf('/data.bin'), String(size), '3', join(dir, 'seed.bin')]);
    t.teardown(seed.kill);
    const runs = clientPorts.map((p, i) => start(['client', `127.0.0.1:${p}`, String(i), `127.0.0.1:${seedPort}`, clients,
      String(size), join(dir, `c${i}.bin`), join(dir, `c${i}.done`)], { RELAY_FROM_DISK: env.fromDisk, RELAY_NATIVE: env.native }));
    for (const r of runs) t.teardown(r.kill);
    const ends = await Promise.all(runs.map((r) => r.exited));
    t.deepEqual(ends.map((e) => e.code), [0, 0, 0], ends.map((e) => e.stderr).join('\n'));
    for (let i = 0; i < 3; i += 1) {
      t.is(sha(await readFile(join(dir, `c${i}.bin`))), sha(data), `client ${i}'s file`);
      const doneAt = Number((await readFile(join(dir, `c${i}.done`), 'utf8')).trim());
      t.true(doneAt > Date.now() - 60_000 && doneAt <= Date.now(), `client ${i}'s done time ${doneAt}`);
    }
    t.is(origin.served.bytes, size);
  });
}

for (const native of ['0', '1']) {
  test.serial(`a node-relay seed holding the file sends it whole to one client${native === '1' ? ' with sendfile, received natively' : ''}`, async (t) => {
    const size = 2 * 1024 * 1024 + 3;
    const data = randomBytes(size);
    const dir = await mkdtemp(join(tmpdir(), 'relay-floor-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'data.bin'), data);
    const [seedPort, clientPort] = await freePorts(2);
    const seed = start(['seed', `127.0.0.1:${seedPort}`, pathToFileURL(join(dir, 'data.bin')).href, String(size), '1', '/dev/null'], { RELAY_NATIVE: native });
    t.teardown(seed.kill);
    const run = start(['client', `127.0.0.1:${clientPort}`, '0', `127.0.0.1:${seedPort}`, `127.0.0.1:${clientPort}`,
      String(size), join(dir, 'c0.bin'), join(dir, 'c0.done')], { RELAY_NATIVE: native });
    t.teardown(run.kill);
    const end = await run.exited;
    t.is(end.code, 0, end.stderr);
    t.is(sha(await readFile(join(dir, 'c0.bin'))), sha(data));
  });
}

test.serial('the node-relay seed refuses a part that is not one of the file\'s, naming it', async (t) => {
  const origin = await startOriginServer(t, { files: { '/data.bin': randomBytes(1024) } });
  const dir = await mkdtemp(join(tmpdir(), 'relay-floor-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const [seedPort] = await freePorts(1);
  const seed = start(['seed', `127.0.0.1:${seedPort}`, origin.urlOf('/data.bin'), '1024', '2', join(dir, 'seed.bin')]);
  t.teardown(seed.kill);
  await new Promise<void>((resolve) => {
    const tryOnce = (): void => {
      const s = new Socket();
      s.once('error', () => setTimeout(tryOnce, 25));
      s.connect(seedPort!, '127.0.0.1', () => { s.end('7\n'); resolve(); });
    };
    tryOnce();
  });
  const { code, stderr } = await seed.exited;
  t.is(code, 1);
  t.regex(stderr, /part header "7" is not a part of 2/);
});

for (const native of ['0', '1']) {
  test.serial(`a node-relay client whose seed closes the connection early fails and says how much it got${native === '1' ? ' (native path)' : ''}`, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'relay-floor-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    // A seed that sends 1,000 of the part's 4,096 bytes, then closes.
    const liar = createServer((sock) => sock.once('data', () => sock.end(Buffer.alloc(1000, 1))));
    await new Promise<void>((r) => liar.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => liar.close(() => r())));
    const [clientPort] = await freePorts(1);
    const run = start(['client', `127.0.0.1:${clientPort}`, '0', `127.0.0.1:${(liar.address() as AddressInfo).port}`,
      `127.0.0.1:${clientPort}`, '4096', join(dir, 'c0.bin'), join(dir, 'c0.done')], { RELAY_NATIVE: native });
    t.teardown(run.kill);
    const { code, stderr } = await run.exited;
    t.is(code, 1);
    t.regex(stderr, /closed the connection after 1000 of the 4096 bytes of part 0/);
    await t.throwsAsync(readFile(join(dir, 'c0.done')), { code: 'ENOENT' });
  });
}

test('the node-relay floor prints its usage and exits 2 on bad arguments', async (t) => {
  const { code, stderr } = await start(['client', 'x']).exited;
  t.is(code, 2);
  t.regex(stderr, /usage: relay-floor\.js seed/);
  const bad = await start(['seed', 'nowhere', 'http://127.0.0.1:1/x', '10', '2', '/dev/null']).exited;
  t.is(bad.code, 1);
  t.regex(bad.stderr, /"nowhere" is not ip:port/);
  const tiny = await start(['seed', '127.0.0.1:1', 'http://127.0.0.1:1/x', '1', '2', '/dev/null']).exited;
  t.is(tiny.code, 1);
  t.regex(tiny.stderr, /a file of 1 bytes cannot be cut into 2 parts: give at least one byte per part/);
});
