import test from 'ava';
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { issueNodeCertificate } from '../../core/protocol/tls/cluster-certificates.js';
import { NodeTls } from '../../core/protocol/tls/node-tls.js';
import { VortexClient } from '../../core/protocol/vortex/vortex-client.js';
import { silentLogger } from '../../core/logging/logger.js';
import { startAllInOne } from '../support/all-in-one.js';
import { curl } from '../support/curl.js';
import { tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';

const MIB = 1024 * 1024;
const ROOT_PASSWORD = 'tls-root-password-1';
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** What openssl s_client prints when the server refuses the client: an alert, or the connection dropped after the handshake. */
const REFUSED = /alert (certificate required|handshake failure|unknown ca|bad certificate|certificate expired)|unexpected eof/i;

interface Pki {
  dir: string;
  ca: string;
  node: { cert: string; key: string };
  /** A certificate of another CA, and one of this CA that has ended. */
  foreign: { cert: string; key: string; ca: string };
  expired: { cert: string; key: string };
}

/** A cluster CA and certificates made with the real CLI (and one expired certificate made by the same code). */
async function makePki(t: ExecutionContext): Promise<Pki> {
  const dir = await tmpDir(t, 'd7y-pki-');
  const cli = async (args: string[]): Promise<string> => {
    const r = await runCli(args);
    t.is(r.code, 0, r.stderr);
    return r.stdout;
  };
  await cli(['cert', 'init', '--dir', join(dir, 'ca')]);
  await cli(['cert', 'issue', '--dir', join(dir, 'ca'), '--name', 'node-1', '--ip', '127.0.0.1', '--dns', 'localhost']);
  await cli(['cert', 'init', '--dir', join(dir, 'other')]);
  await cli(['cert', 'issue', '--dir', join(dir, 'other'), '--name', 'intruder', '--ip', '127.0.0.1']);
  await issueNodeCertificate(join(dir, 'ca'), { name: 'old', ips: ['127.0.0.1'], days: 1, now: Date.now() - 3 * 86_400_000 });
  return {
    dir, ca: join(dir, 'ca/ca.crt'), node: { cert: join(dir, 'ca/node-1.crt'), key: join(dir, 'ca/node-1.key') },
    foreign: { cert: join(dir, 'other/intruder.crt'), key: join(dir, 'other/intruder.key'), ca: join(dir, 'other/ca.crt') },
    expired: { cert: join(dir, 'ca/old.crt'), key: join(dir, 'ca/old.key') },
  };
}

/** Runs `openssl s_client` against 127.0.0.1:port with `args`, sending nothing, and returns all it printed (a server that keeps the connection open for a second accepted it). */
function sClientRaw(port: number, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-showcerts', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', reject);
    child.on('close', () => { clearTimeout(timer); resolve(out); });
    // A TLS 1.3 server refuses a client certificate after the handshake: wait for it before leaving.
    setTimeout(() => child.stdin.end(), 1000);
  });
}

test.serial('a d7y up node in mode mutual: P2P downloads, preheat over https, the https proxy; clients without a certificate, from another CA or expired are refused; a replaced certificate is served without a restart', async (t) => {
  t.timeout(300_000);
  const pki = await makePki(t);
  const tls = { mode: 'mutual', ca: pki.ca, cert: pki.node.cert, key: pki.node.key };
  const file = randomBytes(20 * MIB);
  const small = randomBytes(3 * MIB);
  const preheated = randomBytes(9 * MIB);
  const origin = await startOriginServer(t, { files: { '/big.bin': file, '/small.bin': small, '/pre.bin': preheated, '/after.bin': preheated.subarray(0, 8 * MIB) } });
  const node = await startAllInOne(t, { security: { tls }, manager: { rootPassword: ROOT_PASSWORD } });
  t.regex(node.banner, /"tls":"mutual"/);
  let nodeLog = '';
  node.process.stdout?.setEncoding('utf8').on('data', (d: string) => { nodeLog += d; });
  node.process.stderr?.setEncoding('utf8').on('data', (d: string) => { nodeLog += d; });
  const config = JSON.parse(await readFile(node.file, 'utf8')) as { peer: { upload: { port: number }; rpc: { port: number }; pieceHttp: { port: number } }; scheduler: { listen: { port: number } } };
  const ports = { vortex: config.peer.upload.port, rpc: config.peer.rpc.port, pieceHttp: config.peer.pieceHttp.port, scheduler: config.scheduler.listen.port, manager: Number(new URL(node.managerUrl).port) };

  // A P2P download: the seed peer reads the origin, the peer gets the pieces over TLS.
  const out = join(node.dir, 'big.out');
  const get = await runCli(['get', origin.urlOf('/big.bin'), '-O', out, '--socket', node.socket, '--no-progress'], { timeoutMs: 120_000 });
  t.is(get.code, 0, get.stderr);
  t.is(sha256(await readFile(out)), sha256(file), 'the bytes arrived intact');
  t.regex(get.stderr, /[1-9][\d.]* [KMG]?i?B from peers/, `pieces came from the seed peer over TLS: ${get.stderr}`);

  // Preheat through the manager's https API, with the CLI's TLS from the environment.
  const cliTls = { D7Y_SECURITY__TLS__CA: pki.ca, D7Y_SECURITY__TLS__CERT: pki.node.cert, D7Y_SECURITY__TLS__KEY: pki.node.key, D7Y_PASSWORD: ROOT_PASSWORD };
  const created = await runCli(['token', 'create', 'tls', '--user', 'root', '--manager', node.managerUrl, '--json'], { env: cliTls });
  t.is(created.code, 0, created.stderr);
  const token = (JSON.parse(created.stdout) as { token: string }).token;
  const pre = await runCli(['preheat', origin.urlOf('/pre.bin'), '--manager', node.managerUrl, '--token', token, '--wait'], { env: cliTls, timeoutMs: 120_000 });
  t.is(pre.code, 0, pre.stderr + pre.stdout);
  const servedBefore = origin.served.bytes;
  const preOut = join(node.dir, 'pre.out');
  const again = await runCli(['get', origin.urlOf('/pre.bin'), '-O', preOut, '--socket', node.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(again.code, 0, again.stderr);
  t.is(sha256(await readFile(preOut)), sha256(preheated));
  t.is(origin.served.bytes, servedBefore, 'the preheated file came from the seed peer, not the origin');

  // Without the CLI's certificate, the manager refuses the handshake and the CLI says what to do.
  const noCert = await runCli(['preheat', origin.urlOf('/pre.bin'), '--manager', node.managerUrl, '--token', token], { env: { D7Y_SECURITY__TLS__CA: pki.ca } });
  t.not(noCert.code, 0);
  t.regex(noCert.stderr, /TLS handshake failed: .*requires a client certificate/);
  t.regex(noCert.stderr, /fix: .*security\.tls\.mode mutual/);

  // The proxy listens with HTTPS and requires the client certificate too.
  const viaProxy = await curl(['--proxy', `https://${node.proxy}`, '--proxy-cacert', pki.ca, '--proxy-cert', pki.node.cert, '--proxy-key', pki.node.key, origin.urlOf('/small.bin')], 60_000);
  t.is(viaProxy.status, 200, viaProxy.stderr);
  t.is(sha256(viaProxy.body), sha256(small));
  const proxyNoCert = await curl(['--proxy', `https://${node.proxy}`, '--proxy-cacert', pki.ca, origin.urlOf('/small.bin')], 30_000);
  t.not(proxyNoCert.code, 0, 'curl without a client certificate is refused by the proxy');

  // Every listener: with the node's certificate the handshake verifies; without one, with one of
  // another CA, or with an expired one, it is refused.
  for (const [name, port] of Object.entries(ports)) {
    const sClient = (p: number, args: string[]) => sClientRaw(p, name === 'rpc' || name === 'scheduler' ? [...args, '-alpn', 'h2'] : args);
    const ok = await sClient(port, ['-CAfile', pki.ca, '-cert', pki.node.cert, '-key', pki.node.key]);
    t.regex(ok, /Verify return code: 0 \(ok\)/, `${name}: the node certificate verifies`);
    t.notRegex(ok, REFUSED, `${name}: and is accepted`);
    for (const [who, args] of [['without a certificate', []], ['from another CA', ['-cert', pki.foreign.cert, '-key', pki.foreign.key]],
      ['expired', ['-cert', pki.expired.cert, '-key', pki.expired.key]]] as const) {
      const out = await sClient(port, ['-CAfile', pki.ca, ...args]);
      t.regex(out, REFUSED, `${name}: a client ${who} is refused: ${out.slice(-300)}`);
    }
  }
  const refusals = nodeLog.split('\n').filter((l) => l.includes('TLS handshake refused'));
  t.true(refusals.some((l) => /"server":"vortex".*"reason":"the client presented no certificate/.test(l)), `the node logs whom it refused and why: ${refusals.slice(0, 3).join('\n')}`);
  t.true(refusals.some((l) => /"server":"manager".*"reason":"the client certificate has expired/.test(l)), 'an expired client certificate is named as such');
  t.true(refusals.some((l) => /"server":"piece http".*"reason":"the client certificate is not signed by the CA/.test(l)), 'a foreign one too');

  // A d7y client holding a certificate of another CA gets an error naming its file and the fix.
  const intruder = await NodeTls.load({ mode: 'mutual', ca: pki.ca, cert: pki.foreign.cert, key: pki.foreign.key }, { logger: silentLogger(), serves: false, watch: false }).catch((e: Error) => e);
  t.true(intruder instanceof Error && /was not signed by the CA/.test(intruder.message), 'a node refuses to start with a certificate its CA did not sign');
  const foreignTls = (await NodeTls.load({ mode: 'mutual', ca: pki.foreign.ca, cert: pki.foreign.cert, key: pki.foreign.key }, { logger: silentLogger(), serves: false, watch: false }))!;
  const vortex = new VortexClient({ tls: foreignTls, connectTimeoutMs: 5_000 });
  t.teardown(() => vortex.close());
  const refused = await t.throwsAsync(vortex.openPiece({ host: '127.0.0.1', port: ports.vortex }, { taskId: 'a'.repeat(64), number: 0 }));
  t.regex(refused?.message ?? '', /TLS handshake failed: the certificate peer 127\.0\.0\.1:\d+ presented is not signed by the CA in .*other\/ca\.crt/);
  t.regex((refused as { fix?: string }).fix ?? '', /cluster CA/);
  foreignTls.close();

  // Replace the node certificate on disk: new handshakes get the new one, without a restart.
  const before = await sClientRaw(ports.vortex, ['-CAfile', pki.ca, '-cert', pki.node.cert, '-key', pki.node.key]);
  const serialBefore = /serial:([0-9A-F]+)/i.exec(await (await runCli(['cert', 'show', pki.node.cert])).stdout)?.[1];
  const reissued = await runCli(['cert', 'issue', '--dir', join(pki.dir, 'ca'), '--name', 'node-1', '--ip', '127.0.0.1', '--dns', 'localhost', '--force']);
  t.is(reissued.code, 0, reissued.stderr);
  t.is((await stat(pki.node.key)).mode & 0o777, 0o600, 'the key is written 0600');
  const newCert = (await readFile(pki.node.cert, 'utf8')).replace(/\s+/g, '');
  const presented = (s: string): string => (/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(s)?.[0] ?? '').replace(/\s+/g, '');
  t.not(presented(before), newCert, `the old certificate (serial ${serialBefore}) was served before`);
  let after = '';
  for (let i = 0; i < 40 && presented(after) !== newCert; i++) {
    await new Promise((r) => setTimeout(r, 500));
    after = await sClientRaw(ports.vortex, ['-CAfile', pki.ca, '-cert', pki.node.cert, '-key', pki.node.key]);
  }
  t.is(presented(after), newCert, 'Vortex serves the new certificate');
  const grpcAfter = await sClientRaw(ports.scheduler, ['-CAfile', pki.ca, '-cert', pki.node.cert, '-key', pki.node.key, '-alpn', 'h2']);
  t.is(presented(grpcAfter), newCert, 'the scheduler gRPC serves the new certificate');
  const more = join(node.dir, 'after.out');
  const later = await runCli(['get', origin.urlOf('/after.bin'), '-O', more, '--socket', node.socket, '--no-progress'], { timeoutMs: 60_000 });
  t.is(later.code, 0, later.stderr);
  t.is(sha256(await readFile(more)), sha256(preheated.subarray(0, 8 * MIB)), 'P2P downloads go on after the reload');
  t.regex(later.stderr, /[1-9][\d.]* [KMG]?i?B from peers/);
});
