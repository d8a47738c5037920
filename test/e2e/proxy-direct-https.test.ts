import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { curl } from '../support/curl.js';
import { freePort, tmpDir } from '../support/env.js';
import { startNginxHttps } from '../support/nginx-https.js';
import { originPki } from '../support/origin-pki.js';
import { runCli } from '../support/run-cli.js';
import { P2PCluster } from './p2p-cluster.js';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A peer whose proxy forwards `*.bin` directly (no swarm) and intercepts HTTPS to 127.0.0.1; the http source configured by `http`. */
async function directProxy(t: Parameters<typeof P2PCluster.create>[0], http: Record<string, unknown>): Promise<{ port: number; proxyCa: string }> {
  const cluster = await P2PCluster.create(t, { sources: [{ name: 'http', config: http }] });
  const port = await freePort();
  await cluster.peer('peer', { peer: { proxy: { listen: { port }, rules: [{ regex: '\\.bin$', use: 'direct' }], hijackHttps: { hosts: ['^127\\.0\\.0\\.1$'] } } } });
  const printed = await runCli(['proxy', 'ca', '-c', join(cluster.dir, 'peer.json')]);
  if (printed.code !== 0) throw new Error(printed.stderr);
  const proxyCa = join(cluster.dir, 'proxy-ca.pem');
  await writeFile(proxyCa, printed.stdout);
  return { port, proxyCa };
}

test('the proxy forwards directly to an nginx HTTPS origin with the http source\'s caFile and client certificate, and without caFile answers 502 naming it', async (t) => {
  t.timeout(180_000);
  const dir = await tmpDir(t);
  const pki = await originPki(join(dir, 'pki'));
  const open = randomBytes(3 * 1024 * 1024 + 7);
  const secret = randomBytes(256 * 1024 + 1);
  const nginx = await startNginxHttps(t, { files: { '/open.bin': open, '/private/secret.bin': secret }, cert: pki.origin.cert, key: pki.origin.key, clientCa: pki.ca });

  const trusting = await directProxy(t, { caFile: pki.ca, clientCertFile: pki.client.cert, clientKeyFile: pki.client.key });
  const via = (p: { port: number; proxyCa: string }, path: string) => curl(['-x', `http://127.0.0.1:${p.port}`, '--cacert', p.proxyCa, `${nginx.baseUrl}${path}`], 60_000);
  const got = await via(trusting, '/open.bin');
  t.is(got.status, 200, got.stderr);
  t.is(sha256(got.body), sha256(open));
  t.false('x-dragonfly-task-id' in got.headers, 'forwarded directly, not through the swarm');
  const privateGot = await via(trusting, '/private/secret.bin');
  t.is(privateGot.status, 200, privateGot.body.toString());
  t.is(sha256(privateGot.body), sha256(secret));
  t.regex(await readFile(nginx.accessLog, 'utf8'), /200 SUCCESS \/private\/secret\.bin/, 'nginx verified the client certificate the proxy presented');

  const plain = await directProxy(t, {});
  const refused = await via(plain, '/open.bin');
  t.is(refused.status, 502);
  t.regex(refused.body.toString(), /the origin's TLS certificate is not signed by a trusted CA; fix: set the http source's caFile/);
});
