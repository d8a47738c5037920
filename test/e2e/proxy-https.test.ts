import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import test from 'ava';
import { ProxyCa } from '../../core/roles/peer/proxy/proxy-ca.js';
import { createLogger } from '../../core/logging/logger.js';
import { curl } from '../support/curl.js';
import { freePort, tmpDir } from '../support/env.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster, testBytes } from './p2p-cluster.js';

const MIB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

test('HTTPS through the proxy: a CONNECT to a hijacked host goes P2P under the CA d7y proxy ca prints; other hosts are tunnelled untouched', async (t) => {
  const file = testBytes(3 * MIB + 77, 11);
  // An HTTPS origin on loopback with a certificate of its own CA (not the proxy's).
  const originCa = await ProxyCa.load({ dir: await tmpDir(t), logger: createLogger({ level: 'silent' }) });
  const leaf = await originCa.leafFor('localhost');
  let served = 0;
  const origin = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (req, res) => {
    served += 1;
    if (req.url !== '/big.bin') return void res.writeHead(404).end('no such file');
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const [s, e] = [Number(range[1]), Number(range[2])];
      res.writeHead(206, { 'content-range': `bytes ${s}-${e}/${file.length}`, 'content-length': e - s + 1, 'accept-ranges': 'bytes' }).end(file.subarray(s, e + 1));
      return;
    }
    res.writeHead(200, { 'content-length': file.length, 'accept-ranges': 'bytes' }).end(req.method === 'HEAD' ? undefined : file);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => { origin.close(() => resolve()); origin.closeAllConnections(); }));
  const originPort = (origin.address() as AddressInfo).port;

  const cluster = await P2PCluster.create(t, { sources: [{ name: 'http', config: { insecureSkipVerify: true } }] });
  const port = await freePort();
  const peer = await cluster.peer('peer', { peer: { proxy: { listen: { port }, rules: [{ regex: '\\.bin$', use: 'p2p' }], hijackHttps: { hosts: ['^localhost$'] } } } });
  const proxy = `http://127.0.0.1:${port}`;

  const printed = await runCli(['proxy', 'ca', '-c', join(cluster.dir, 'peer.json')]);
  t.is(printed.code, 0, printed.stderr);
  const proxyCaFile = join(cluster.dir, 'proxy-ca.pem');
  await writeFile(proxyCaFile, printed.stdout);

  const hijacked = await curl(['-x', proxy, '--cacert', proxyCaFile, `https://localhost:${originPort}/big.bin`]);
  t.is(hijacked.code, 0, hijacked.stderr);
  t.is(sha256(hijacked.body), sha256(file));
  t.regex(hijacked.headers['x-dragonfly-task-id'] ?? '', /^[0-9a-f]{64}$/, 'the HTTPS download went through the swarm');
  const untrusted = await curl(['-x', proxy, `https://localhost:${originPort}/big.bin`]);
  t.is(untrusted.code, 60, 'a client that does not trust the proxy CA refuses the minted certificate');

  const before = served;
  const direct = await curl(['-x', proxy, '-k', `https://127.0.0.1:${originPort}/big.bin`]);
  t.is(direct.code, 0, direct.stderr);
  t.is(sha256(direct.body), sha256(file));
  t.false('x-dragonfly-task-id' in direct.headers, 'a host no hijack rule matches is tunnelled: the origin answered curl itself');
  t.true(served > before);
  t.truthy(peer);
});
