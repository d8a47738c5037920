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

const MIB = 1024 * 1024;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** A plugins.json with the http source configured by `http`, disk storage and the default evaluator. */
async function pluginsWith(dir: string, name: string, http: Record<string, unknown>): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify({ plugins: [{ name: 'http', config: http }, { name: 'disk' }, { name: 'default' }], scheduler: { evaluator: 'default' } }));
  return file;
}

test('d7y get from an nginx HTTPS origin with a test CA: refused with the option to set, then trusted through caFile, a per-host skip, and a client certificate', async (t) => {
  t.timeout(120_000);
  const dir = await tmpDir(t);
  const pki = await originPki(join(dir, 'pki'));
  const file = randomBytes(5 * MIB + 3);
  const secret = randomBytes(64 * 1024);
  const nginx = await startNginxHttps(t, { files: { '/f.bin': file, '/private/s.bin': secret }, cert: pki.origin.cert, key: pki.origin.key, clientCa: pki.ca });
  const get = async (plugins: string, path: string, name: string) => {
    const out = join(dir, name);
    const r = await runCli(['get', `${nginx.baseUrl}${path}`, '-O', out, '--no-progress', '--no-daemon'], {
      env: { D7Y_DATA_DIR: join(dir, `data-${name}`), D7Y_PLUGINS_FILE: plugins }, timeoutMs: 60_000,
    });
    return { ...r, out };
  };

  const untrusted = await get(await pluginsWith(dir, 'plain.json', {}), '/f.bin', 'a');
  t.not(untrusted.code, 0);
  t.regex(untrusted.stderr, /not signed by a trusted CA/);
  t.regex(untrusted.stderr, /fix: set the http source's caFile .*insecureSkipVerifyHosts/, 'the error names the options that fix it');

  const trusted = await get(await pluginsWith(dir, 'ca.json', { caFile: pki.ca }), '/f.bin', 'b');
  t.is(trusted.code, 0, trusted.stderr);
  t.is(sha256(await readFile(trusted.out)), sha256(file));

  const skipped = await get(await pluginsWith(dir, 'skip.json', { insecureSkipVerifyHosts: ['127.0.0.1'] }), '/f.bin', 'c');
  t.is(skipped.code, 0, skipped.stderr);
  t.is(sha256(await readFile(skipped.out)), sha256(file));
  const otherHost = await get(await pluginsWith(dir, 'skip-other.json', { insecureSkipVerifyHosts: ['*.example.com', `127.0.0.1:${nginx.port + 1}`] }), '/f.bin', 'd');
  t.not(otherHost.code, 0, 'a pattern for another host or port skips nothing');

  const noClientCert = await get(await pluginsWith(dir, 'ca2.json', { caFile: pki.ca }), '/private/s.bin', 'e');
  t.not(noClientCert.code, 0);
  t.regex(noClientCert.stderr, /HTTP 403/);
  const withClientCert = await get(await pluginsWith(dir, 'client.json', { caFile: pki.ca, clientCertFile: pki.client.cert, clientKeyFile: pki.client.key }), '/private/s.bin', 'f');
  t.is(withClientCert.code, 0, withClientCert.stderr);
  t.is(sha256(await readFile(withClientCert.out)), sha256(secret));
  const log = await readFile(nginx.accessLog, 'utf8');
  t.regex(log, /200 SUCCESS \/private\/s\.bin/, 'nginx verified the client certificate');
});

test('an HTTPS origin through a cluster: the seed peer goes back to source with caFile, a peer downloads P2P, and the proxy serves it to curl', async (t) => {
  t.timeout(180_000);
  const dir = await tmpDir(t);
  const pki = await originPki(join(dir, 'pki'));
  const file = randomBytes(12 * MIB + 5);
  const viaProxy = randomBytes(6 * MIB + 1);
  const nginx = await startNginxHttps(t, { files: { '/model.bin': file, '/proxy.bin': viaProxy }, cert: pki.origin.cert, key: pki.origin.key, clientCa: pki.ca });
  const cluster = await P2PCluster.create(t, { sources: [{ name: 'http', config: { caFile: pki.ca } }] });
  const scheduler = await cluster.scheduler();
  await cluster.peer('seed', { seed: true, schedulers: [scheduler.address] });
  const port = await freePort();
  const peer = await cluster.peer('peer', { schedulers: [scheduler.address], peer: { proxy: { listen: { port }, rules: [{ regex: '\\.bin$', use: 'p2p' }], hijackHttps: { hosts: ['^127\\.0\\.0\\.1$'] } } } });

  const out = join(dir, 'model.bin');
  const get = await runCli(['get', `${nginx.baseUrl}/model.bin`, '-O', out, '--socket', peer.socket, '--no-progress'], { timeoutMs: 90_000 });
  t.is(get.code, 0, get.stderr);
  t.is(sha256(await readFile(out)), sha256(file));
  t.regex(get.stderr, /[1-9][\d.]* [KMG]?i?B from peers/, `the seed peer read the HTTPS origin and served the peer: ${get.stderr}`);

  const printed = await runCli(['proxy', 'ca', '-c', join(cluster.dir, 'peer.json')]);
  t.is(printed.code, 0, printed.stderr);
  const proxyCa = join(dir, 'proxy-ca.pem');
  await writeFile(proxyCa, printed.stdout);
  const res = await curl(['-x', `http://127.0.0.1:${port}`, '--cacert', proxyCa, `${nginx.baseUrl}/proxy.bin`], 90_000);
  t.is(res.code, 0, res.stderr);
  t.is(sha256(res.body), sha256(viaProxy));
  t.regex(res.headers['x-dragonfly-task-id'] ?? '', /^[0-9a-f]{64}$/, 'the proxy served it through the swarm');
  const log = await readFile(nginx.accessLog, 'utf8');
  t.regex(log, /20[06] \S+ \/proxy\.bin/, 'the origin served the seed over HTTPS');
});
