import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import test from 'ava';
import { curl } from '../support/curl.js';
import { freePort } from '../support/env.js';
import { startOriginServer, type OriginServer } from '../support/origin-server.js';
import { P2PCluster, testBytes } from './p2p-cluster.js';

const MIB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const BIG = testBytes(6 * MIB + 123, 3);
const TEXT = Buffer.from('d7y proxy small text file\n'.repeat(400));

/** Rules: `.bin` goes P2P, everything else direct (the default rule would send only registry blobs). */
const RULES = [{ regex: '\\.bin$', use: 'p2p' }];

async function node(t: Parameters<typeof P2PCluster.create>[0], proxy: Record<string, unknown> = {}): Promise<{ origin: OriginServer; proxy: string }> {
  const origin = await startOriginServer(t, {
    files: { '/big.bin': BIG, '/ranged.bin': BIG, '/again.bin': BIG, '/small.txt': TEXT, '/small.bin': TEXT, '/forced.dat': BIG, '/dies.bin': BIG, '/dies.dat': BIG },
  });
  origin.behave('/small.txt', { gzipWhenAsked: true });
  origin.behave('/small.bin', { gzipWhenAsked: true });
  origin.behave('/dies.bin', { dropAfterBytes: 100_000 });
  origin.behave('/dies.dat', { dropAfterBytes: 100_000 });
  const cluster = await P2PCluster.create(t);
  const scheduler = await cluster.scheduler();
  await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const port = await freePort();
  await cluster.peer('peer', { schedulers: [scheduler.address], peer: { proxy: { listen: { port }, rules: RULES, ...proxy } } });
  return { origin, proxy: `http://127.0.0.1:${port}` };
}

test('curl -x: a file through the swarm is byte-exact, read from the origin once, and a local hit the second time', async (t) => {
  const { origin, proxy } = await node(t);
  const first = await curl(['-x', proxy, origin.urlOf('/big.bin')]);
  t.is(first.code, 0, first.stderr);
  t.is(first.status, 200);
  t.is(sha256(first.body), sha256(BIG));
  t.regex(first.headers['x-dragonfly-task-id'] ?? '', /^[0-9a-f]{64}$/, 'the task id is in the response');
  t.is(first.headers['content-length'], String(BIG.length));
  t.false('x-dragonfly-task-download-finished' in first.headers);
  t.true(origin.served.bytes <= BIG.length * 1.05, `the origin served ${origin.served.bytes} bytes for a ${BIG.length}-byte file`);
  const requests = origin.served.requests('/big.bin', 'GET');

  const again = await curl(['-x', proxy, origin.urlOf('/big.bin')]);
  t.is(sha256(again.body), sha256(BIG));
  t.is(again.headers['x-dragonfly-task-download-finished'], 'true', 'the second request is a local hit');
  t.is(origin.served.requests('/big.bin', 'GET'), requests, 'the local hit did not touch the origin');

  const forced = await curl(['-x', proxy, '-H', 'X-Dragonfly-Use-P2P: true', origin.urlOf('/forced.dat')]);
  t.is(sha256(forced.body), sha256(BIG));
  t.truthy(forced.headers['x-dragonfly-task-id'], 'X-Dragonfly-Use-P2P: true sent a URL no rule matches through the swarm');
  const direct = await curl(['-x', proxy, origin.urlOf('/forced.dat')]);
  t.is(sha256(direct.body), sha256(BIG));
  t.false('x-dragonfly-task-id' in direct.headers, 'without the header it went direct');
});

test('curl -x: a range is 206 with the right Content-Range, a range past the end 416, several ranges and HEAD go to the origin', async (t) => {
  const { origin, proxy } = await node(t);
  const url = origin.urlOf('/ranged.bin');
  const mid = await curl(['-x', proxy, '-r', '1048570-2097160', url]);
  t.is(mid.status, 206);
  t.is(mid.headers['content-range'], `bytes 1048570-2097160/${BIG.length}`);
  t.is(mid.headers['content-length'], String(2097160 - 1048570 + 1));
  t.true(mid.body.equals(BIG.subarray(1048570, 2097161)));
  const suffix = await curl(['-x', proxy, '-r', '-500', url]);
  t.is(suffix.status, 206);
  t.is(suffix.headers['content-range'], `bytes ${BIG.length - 500}-${BIG.length - 1}/${BIG.length}`);
  t.true(suffix.body.equals(BIG.subarray(BIG.length - 500)));
  const open = await curl(['-x', proxy, '-r', `${BIG.length - 10}-`, url]);
  t.true(open.body.equals(BIG.subarray(BIG.length - 10)));
  const past = await curl(['-x', proxy, '-r', `${BIG.length + 5}-`, url]);
  t.is(past.status, 416);
  t.is(past.headers['content-range'], `bytes */${BIG.length}`);

  const before = origin.served.requests('/ranged.bin', 'GET');
  const several = await curl(['-x', proxy, '-r', '0-1,5-6', url]);
  t.is(origin.served.requests('/ranged.bin', 'GET'), before + 1, 'several ranges went to the origin');
  t.false('x-dragonfly-task-id' in several.headers);
  const head = await curl(['-x', proxy, '-I', url]);
  t.is(head.status, 200);
  t.is(head.headers['content-length'], String(BIG.length));
  t.is(origin.served.requests('/ranged.bin', 'HEAD') > 0, true, 'HEAD went to the origin');
});

test('curl -x: the origin\'s 404 passes through with its body; an origin dying mid-body makes curl fail, P2P or direct', async (t) => {
  const { origin, proxy } = await node(t);
  const missing = await curl(['-x', proxy, origin.urlOf('/missing.bin')]);
  t.is(missing.code, 0);
  t.is(missing.status, 404);
  t.is(missing.body.toString(), 'no object at /missing.bin', 'the origin\'s own body');
  for (const path of ['/dies.bin', '/dies.dat']) {
    const dies = await curl(['-x', proxy, origin.urlOf(path)], 120_000);
    t.not(dies.code, 0, `${path}: curl reported an error (exit ${dies.code}), never a short body taken as whole`);
    t.true(dies.body.length < BIG.length, path);
  }
});

test('curl -x: the bytes are the origin\'s whatever Accept-Encoding says', async (t) => {
  const { origin, proxy } = await node(t);
  const p2p = await curl(['-x', proxy, '-H', 'Accept-Encoding: gzip', origin.urlOf('/small.bin')]);
  t.is(p2p.status, 200);
  t.truthy(p2p.headers['x-dragonfly-task-id']);
  t.false('content-encoding' in p2p.headers);
  t.true(p2p.body.equals(TEXT), 'through the swarm: the plain bytes, never a re-encoded body');
  const direct = await curl(['-x', proxy, '--compressed', origin.urlOf('/small.txt')]);
  t.is(direct.headers['content-encoding'], 'gzip', 'direct: the origin\'s encoding passed through untouched');
  t.true(direct.body.equals(TEXT), 'and curl decodes it to the same bytes');
});

test('bad requests get a 4xx that says why, and the proxy keeps serving', async (t) => {
  const { origin, proxy } = await node(t);
  const port = Number(new URL(proxy).port);
  const raw = (bytes: string): Promise<string> => new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(bytes));
    let got = '';
    s.setEncoding('utf8').on('data', (d: string) => { got += d; }).on('end', () => resolve(got)).on('error', reject);
  });
  t.regex(await raw('GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400 [^\n]*\r\n[\s\S]*malformed HTTP request/);
  t.regex(await raw(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(40_000)}\r\n\r\n`), /^HTTP\/1\.1 431 /);
  const notProxy = await curl([`${proxy}/some/file`]);
  t.is(notProxy.status, 400);
  t.regex(notProxy.body.toString(), /neither a proxy request .* nor a registry API request/);
  const badPiece = await curl(['-x', proxy, '-H', 'X-Dragonfly-Piece-Length: lots', origin.urlOf('/big.bin')]);
  t.is(badPiece.status, 400);
  t.regex(badPiece.body.toString(), /X-Dragonfly-Piece-Length "lots" is not a size/);
  const refused = await curl(['-x', 'http://127.0.0.1:1', origin.urlOf('/big.bin')]);
  t.not(refused.code, 0);
  const unreachable = await curl(['-x', proxy, `http://127.0.0.1:${await freePort()}/x.txt`]);
  t.is(unreachable.status, 502);
  t.regex(unreachable.body.toString(), /could not be reached: connection refused/);
  const ok = await curl(['-x', proxy, origin.urlOf('/small.txt')]);
  t.is(ok.status, 200, 'still serving');
});

test('basic auth and the request rate: 407 without credentials, 429 past the rate', async (t) => {
  const { origin, proxy } = await node(t, { basicAuth: { username: 'alice', password: 's3cret' }, maxRequestsPerSecond: 3 });
  const anonymous = await curl(['-x', proxy, origin.urlOf('/small.txt')]);
  t.is(anonymous.status, 407);
  t.regex(anonymous.headers['proxy-authenticate'] ?? '', /^Basic/);
  const wrong = await curl(['-x', proxy, '--proxy-user', 'alice:nope', origin.urlOf('/small.txt')]);
  t.is(wrong.status, 407);
  const ok = await curl(['-x', proxy, '--proxy-user', 'alice:s3cret', origin.urlOf('/small.txt')]);
  t.is(ok.status, 200, 'with the credentials');
  // 20 requests at once from this process (curl processes start too slowly on a busy machine to exceed 3/s).
  const auth = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
  const { port } = new URL(proxy);
  const one = (): Promise<number> => new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: Number(port), path: origin.urlOf('/small.txt'), headers: { 'proxy-authorization': auth } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject).end();
  });
  const statuses = await Promise.all(Array.from({ length: 20 }, one));
  t.true(statuses.includes(200), statuses.join(' '));
  t.true(statuses.includes(429), `past 3 requests per second some get 429: ${statuses.join(' ')}`);
});
