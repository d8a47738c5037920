import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { DfdaemonUploadService } from '../../core/protocol/rpc/gen/dfdaemon.js';
import { SchedulerService } from '../../core/protocol/rpc/gen/scheduler.js';
import { PersistentCacheService } from '../../core/protocol/rpc/gen/scheduler-persistent-cache.js';
import { DfdaemonPersistentCacheService } from '../../core/protocol/rpc/gen/dfdaemon-persistent-cache.js';
import { ClusterAuth } from '../../core/protocol/auth/cluster-auth.js';
import { clusterAuthInterceptor } from '../../core/protocol/auth/grpc-auth.js';
import { startLiveNode } from './live-node.js';

const RUNS_PER_METHOD = 150;
const DEADLINE_MS = 5_000;
/** Streams may legitimately stay open (SyncPieces waits for pieces to come): they are cancelled after this long. */
const STREAM_DEADLINE_MS = 300;

interface MethodDef {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(value: Buffer): unknown;
}

const raw = (b: Buffer) => b;
const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);

/** A random value shaped like `template` (a message decoded from no bytes: every scalar field at its default). */
function shaped(template: unknown, key = ''): fc.Arbitrary<unknown> {
  if (typeof template === 'string') {
    if (/url/i.test(key)) return fc.constantFrom('http://127.0.0.1:1/x.bin', 'http://127.0.0.1:9/', 'not a url', '', 'ftp://127.0.0.1/x');
    if (/(^|_)ip$|Ip$/.test(key)) return fc.constantFrom('127.0.0.1', '::1', '', 'not-an-ip', '999.1.1.1');
    if (/id$/i.test(key)) return fc.oneof(hex64, fc.string({ maxLength: 80 }), fc.constant(''));
    return fc.oneof(fc.string({ maxLength: 64 }), fc.constant(''), fc.string({ minLength: 1000, maxLength: 5000 }));
  }
  if (typeof template === 'number') {
    return fc.oneof(fc.integer({ min: -5, max: 100 }), fc.constantFrom(0, 2 ** 31 - 1, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER, -1), fc.nat());
  }
  if (typeof template === 'boolean') return fc.boolean();
  if (template instanceof Uint8Array) return fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
  if (Array.isArray(template)) return fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 });
  if (template && typeof template === 'object') {
    const entries = Object.entries(template as Record<string, unknown>);
    if (entries.length === 0) return fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 });
    return fc.record(Object.fromEntries(entries.map(([k, v]) => [k, shaped(v, k)])), { requiredKeys: [] });
  }
  return fc.constant(template);
}

/** Raw request bytes for one method: valid-ish messages, mutated ones, and noise. */
function messages(def: MethodDef): fc.Arbitrary<Buffer> {
  const valid = shaped(def.requestDeserialize(Buffer.alloc(0))).map((m) => {
    try {
      return def.requestSerialize(m);
    } catch {
      return Buffer.alloc(0);
    }
  });
  const mutated = fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), fc.uint8Array({ maxLength: 12 }))
    .map(([b, flips, cut, tail]) => {
      const out = Buffer.from(b);
      for (const [at, v] of flips) if (out.length) out[at % out.length] = v;
      return Buffer.concat([out.subarray(0, out.length ? (cut % (out.length + 1)) || out.length : 0), Buffer.from(tail)]);
    });
  return fc.oneof({ weight: 3, arbitrary: valid }, { weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) });
}

/** False when the bytes decode to a message that names a host other than loopback (a fuzzed message never makes the node dial out). */
function loopbackOnly(def: MethodDef, b: Buffer): boolean {
  let decoded: unknown;
  try {
    decoded = def.requestDeserialize(b);
  } catch {
    return true;
  }
  let ok = true;
  JSON.stringify(decoded, (_k, v: unknown) => {
    if (typeof v === 'string') {
      if (v.includes('://') && !/^[a-z]+:\/\/127\.0\.0\.1[:/]/i.test(v)) ok = false;
      const family = isIP(v);
      if (family === 4 && !v.startsWith('127.')) ok = false;
      if (family === 6 && v !== '::1') ok = false;
    }
    return v;
  });
  return ok;
}

type Outcome = { code: number; details: string };

function call(client: Client, def: MethodDef, bodies: Buffer[]): Promise<Outcome> {
  const deadline = Date.now() + (def.requestStream || def.responseStream ? STREAM_DEADLINE_MS : DEADLINE_MS);
  return new Promise((resolve) => {
    const done = (err: ServiceError | null | undefined) => resolve({ code: err?.code ?? status.OK, details: err?.details ?? '' });
    if (!def.requestStream && !def.responseStream) {
      client.makeUnaryRequest(def.path, raw, raw, bodies[0]!, new Metadata(), { deadline }, (err) => done(err));
      return;
    }
    if (!def.requestStream) {
      const stream = client.makeServerStreamRequest(def.path, raw, raw, bodies[0]!, new Metadata(), { deadline });
      stream.on('data', () => undefined).on('error', (e: ServiceError) => done(e)).on('end', () => done(null));
      return;
    }
    const stream = def.responseStream
      ? client.makeBidiStreamRequest(def.path, raw, raw, new Metadata(), { deadline })
      : client.makeClientStreamRequest(def.path, raw, raw, new Metadata(), { deadline }, (err) => done(err));
    stream.on('error', (e: ServiceError) => done(e));
    if (def.responseStream) stream.on('data', () => undefined).on('end', () => done(null));
    for (const b of bodies) stream.write(b);
    stream.end();
  });
}

/** Who a fuzzed call comes from: a stranger, a member of the cluster, or a scheduler or seed peer (member and seed credential). */
const CALLERS = ['stranger', 'member', 'seed'] as const;
type Caller = typeof CALLERS[number];

async function campaign(t: ExecutionContext, address: string, service: Record<string, MethodDef>, auth: ClusterAuth, memberSecret: string): Promise<{ codes: Map<string, Map<number, number>>; callers: Record<Caller, number> }> {
  const options = { 'grpc.max_send_message_length': 64 * 1024 * 1024 };
  const clients: Record<Caller, Client> = {
    stranger: new Client(address, credentials.createInsecure(), options),
    member: new Client(address, credentials.createInsecure(), { ...options, interceptors: [clusterAuthInterceptor({ auth: new ClusterAuth(memberSecret) })] }),
    seed: new Client(address, credentials.createInsecure(), { ...options, interceptors: [clusterAuthInterceptor({ auth })] }),
  };
  t.teardown(() => { for (const c of Object.values(clients)) c.close(); });
  const callers: Record<Caller, number> = { stranger: 0, member: 0, seed: 0 };
  const seen = new Map<string, Map<number, number>>();
  for (const [name, def] of Object.entries(service)) {
    const codes = new Map<number, number>();
    seen.set(name, codes);
    const from = fc.oneof({ weight: 1, arbitrary: fc.constant<Caller>('stranger') }, { weight: 2, arbitrary: fc.constant<Caller>('member') }, { weight: 1, arbitrary: fc.constant<Caller>('seed') });
    await fc.assert(fc.asyncProperty(fc.array(messages(def), { minLength: 1, maxLength: def.requestStream ? 4 : 1 }), from, async (bodies, caller) => {
      if (!bodies.every((b) => loopbackOnly(def, b))) return;
      callers[caller] += 1;
      const r = await call(clients[caller], def, bodies);
      codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
      const streamed = def.requestStream || def.responseStream;
      if (r.code === status.DEADLINE_EXCEEDED && !streamed) throw new Error(`${name}: no answer within ${DEADLINE_MS} ms`);
      if (r.code === status.UNAVAILABLE) throw new Error(`${name}: the server went away (${r.details})`);
      const parseError = r.code === status.INTERNAL && r.details.startsWith('Error deserializing request');
      // A stranger's call is refused, unless its bytes are no message at all (gRPC fails those before any handler runs).
      if (caller === 'stranger' && r.code !== status.UNAUTHENTICATED && !parseError) throw new Error(`${name}: a caller without the cluster credential got ${status[r.code]} ${r.details}`);
      if ((r.code === status.INTERNAL || r.code === status.UNKNOWN) && !parseError) throw new Error(`${name}: ${status[r.code]} ${r.details}`);
    }), { numRuns: RUNS_PER_METHOD, endOnFailure: true, includeErrorInReport: true });
  }
  return { codes: seen, callers };
}

const prefixed = (p: string, service: object) => Object.fromEntries(Object.entries(service).map(([k, v]) => [p + k, v]));

const summary = (r: { codes: Map<string, Map<number, number>>; callers: Record<Caller, number> }) => `callers ${CALLERS.map((c) => `${c}×${r.callers[c]}`).join(' ')}; ` +
  [...r.codes].map(([name, codes]) => `${name}: ${[...codes].map(([c, n]) => `${status[c]}×${n}`).join(' ')}`).join('; ');

test('fuzzing every gRPC method of the scheduler and the dfdaemon with valid-ish, mutated and random messages from strangers (all refused), members and seed-credential holders: no internal error, no hang, no crash; a normal download works afterwards', async (t) => {
  t.timeout(300_000);
  const node = await startLiveNode(t);
  const memberSecret = (await readFile(join(node.dataDir, 'cluster-secret'), 'utf8')).trim();
  const schedulerMethods = { ...SchedulerService, ...prefixed('cache.', PersistentCacheService) } as unknown as Record<string, MethodDef>;
  const scheduler = await campaign(t, `127.0.0.1:${node.ports.scheduler}`, schedulerMethods, node.auth, memberSecret);
  t.log(`scheduler, ${RUNS_PER_METHOD} cases per method (${Object.keys(schedulerMethods).length} methods): ${summary(scheduler)}`);
  t.true(node.alive(), 'the node survived the scheduler campaign');
  t.log(`control download after the scheduler campaign: ${(await node.controlDownload(t)).toFixed(0)} ms`);
  const dfdaemonMethods = { ...DfdaemonUploadService, ...prefixed('cache.', DfdaemonPersistentCacheService) } as unknown as Record<string, MethodDef>;
  const dfdaemon = await campaign(t, `127.0.0.1:${node.ports.rpc}`, dfdaemonMethods, node.auth, memberSecret);
  t.log(`dfdaemon, ${RUNS_PER_METHOD} cases per method (${Object.keys(dfdaemonMethods).length} methods): ${summary(dfdaemon)}`);
  t.true(node.alive(), 'the node survived the dfdaemon campaign');
  t.log(`control download after the dfdaemon campaign: ${(await node.controlDownload(t)).toFixed(0)} ms`);
});
