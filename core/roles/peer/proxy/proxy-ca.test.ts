import test from 'ava';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { silentLogger } from '../../../logging/logger.js';
import { isD7yError } from '../../../errors/d7y-error.js';
import { tmpDir } from '../../../../test/support/env.js';
import { ProxyCa } from './proxy-ca.js';

const run = promisify(execFile);

test('a CA is made on first use, its key 0600, and the next load reuses it', async (t) => {
  const dir = await tmpDir(t);
  const first = await ProxyCa.load({ dir, logger: silentLogger() });
  t.true(first.generated);
  t.is(first.certFile, join(dir, 'proxy-ca.crt'));
  t.is((await stat(join(dir, 'proxy-ca.key'))).mode & 0o777, 0o600, 'only the owner may read the CA key');
  const cert = new X509Certificate(first.certificatePem);
  t.true(cert.ca);
  t.regex(cert.subject, /^CN=d7y proxy CA \(.+\)$/);
  t.true(Date.parse(cert.validTo) - Date.now() > 9 * 365 * 86_400_000, 'valid for about ten years');
  t.is(await readFile(first.certFile, 'utf8'), first.certificatePem);

  const second = await ProxyCa.load({ dir, logger: silentLogger() });
  t.false(second.generated);
  t.is(second.certificatePem, first.certificatePem, 'the same CA, so clients trust it still');
});

test('a corrupt key file is refused with the file named and the fix', async (t) => {
  const dir = await tmpDir(t);
  await ProxyCa.load({ dir, logger: silentLogger() });
  await writeFile(join(dir, 'proxy-ca.key'), 'not a key\n');
  const err = await t.throwsAsync(ProxyCa.load({ dir, logger: silentLogger() }));
  t.true(isD7yError(err, 'D7Y_CONFIG_INVALID'));
  t.true(err!.message.includes(join(dir, 'proxy-ca.key')), err!.message);
  t.regex((err as { fix?: string }).fix ?? '', /delete .*proxy-ca\.crt and .*proxy-ca\.key/);
});

test('a key left without its certificate gets one; a certificate without its key is refused', async (t) => {
  const dir = await tmpDir(t);
  const first = await ProxyCa.load({ dir, logger: silentLogger() });
  const key = await readFile(first.keyFile, 'utf8');
  await rm(first.certFile);
  const healed = await ProxyCa.load({ dir, logger: silentLogger() });
  t.is(await readFile(healed.keyFile, 'utf8'), key, 'the key on disk is kept');
  t.true(new X509Certificate(healed.certificatePem).checkPrivateKey(createPrivateKey(key)));
  await rm(first.keyFile);
  const err = await t.throwsAsync(ProxyCa.load({ dir, logger: silentLogger() }));
  t.regex(err!.message, /proxy CA key .*proxy-ca\.key is missing while its certificate .*proxy-ca\.crt exists/);
  t.regex((err as { fix?: string }).fix ?? '', /restore .*proxy-ca\.key, or delete .*proxy-ca\.crt/);
});

test("a key that is not the certificate's is refused", async (t) => {
  const [a, b] = [await tmpDir(t), await tmpDir(t)];
  await ProxyCa.load({ dir: a, logger: silentLogger() });
  await ProxyCa.load({ dir: b, logger: silentLogger() });
  await writeFile(join(a, 'proxy-ca.key'), await readFile(join(b, 'proxy-ca.key')));
  const err = await t.throwsAsync(ProxyCa.load({ dir: a, logger: silentLogger() }));
  t.regex(err!.message, /private key in .*proxy-ca\.key does not belong to the certificate in .*proxy-ca\.crt/);
});

test("a user's CA (RSA, made by openssl) is used, and a leaf it signs verifies with openssl", async (t) => {
  const dir = await tmpDir(t);
  const [certFile, keyFile] = [join(dir, 'corp.crt'), join(dir, 'corp.key')];
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '30',
    '-subj', '/O=Example Corp/CN=Example Corp Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const ca = await ProxyCa.load({ dir: join(dir, 'unused'), certFile, keyFile, logger: silentLogger() });
  t.false(ca.generated);
  t.is(new X509Certificate(ca.certificatePem).fingerprint256, new X509Certificate(await readFile(certFile)).fingerprint256);
  const leaf = await ca.leafFor('registry.example.com');
  await writeFile(join(dir, 'leaf.crt'), leaf.certPem);
  const verified = await run('openssl', ['verify', '-CAfile', certFile, join(dir, 'leaf.crt')]);
  t.regex(verified.stdout, /leaf\.crt: OK/);
  const leafCert = new X509Certificate(leaf.certPem);
  t.is(leafCert.issuer, 'O=Example Corp\nCN=Example Corp Root');
  t.true(Date.parse(leafCert.validTo) <= Date.parse(new X509Certificate(ca.certificatePem).validTo), 'never outlives its CA');
});

test('a user certificate that is not a CA is refused, and a cert without its key too', async (t) => {
  const dir = await tmpDir(t);
  const [certFile, keyFile] = [join(dir, 'server.crt'), join(dir, 'server.key')];
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '30', '-subj', '/CN=server', '-addext', 'basicConstraints=critical,CA:FALSE']);
  const notCa = await t.throwsAsync(ProxyCa.load({ dir, certFile, keyFile, logger: silentLogger() }));
  t.regex(notCa!.message, /server\.crt is not a CA certificate/);
  const half = await t.throwsAsync(ProxyCa.load({ dir, certFile, logger: silentLogger() }));
  t.regex(half!.message, /needs both a certificate and a key file/);
  const missing = await t.throwsAsync(ProxyCa.load({ dir, certFile, keyFile: join(dir, 'nope.key'), logger: silentLogger() }));
  t.true(isD7yError(missing, 'D7Y_CONFIG_NOT_FOUND'));
  t.regex(missing!.message, /nope\.key does not exist/);
});

test('a leaf verifies with openssl against the CA and names its host (DNS or IP) in its SAN', async (t) => {
  const dir = await tmpDir(t);
  const ca = await ProxyCa.load({ dir, logger: silentLogger() });
  const dns = await ca.leafFor('Mirror.Example.COM.');
  const ip = await ca.leafFor('[::1]');
  await writeFile(join(dir, 'dns.crt'), dns.certPem);
  await writeFile(join(dir, 'ip.crt'), ip.certPem);
  const { stdout } = await run('openssl', ['verify', '-CAfile', ca.certFile, join(dir, 'dns.crt'), join(dir, 'ip.crt')]);
  t.regex(stdout, /dns\.crt: OK/);
  t.regex(stdout, /ip\.crt: OK/);
  t.is(new X509Certificate(dns.certPem).subjectAltName, 'DNS:mirror.example.com');
  t.is(new X509Certificate(ip.certPem).subjectAltName, 'IP Address:0:0:0:0:0:0:0:1');
  const text = (await run('openssl', ['x509', '-in', join(dir, 'dns.crt'), '-noout', '-ext', 'extendedKeyUsage,basicConstraints'])).stdout;
  t.regex(text, /TLS Web Server Authentication/);
  t.regex(text, /CA:FALSE/);
  const leafCert = new X509Certificate(dns.certPem);
  t.true(Date.parse(leafCert.validFrom) < Date.now() - 3600_000, 'backdated for clients whose clock is behind');
  const days = (Date.parse(leafCert.validTo) - Date.now()) / 86_400_000;
  t.true(days > 360 && days < 370, `about a year (${days.toFixed(1)} days)`);
  t.throws(() => ca.leafFor('bad host!'), { message: /"bad host!" is not a host name/ });
});

test('one mint per host: concurrent asks share it, the cache returns it, and the cache is bounded', async (t) => {
  const ca = await ProxyCa.load({ dir: await tmpDir(t), logger: silentLogger(), cacheSize: 3 });
  const started = performance.now();
  const [a, b] = await Promise.all([ca.leafFor('a.example'), ca.leafFor('A.example')]);
  const mintMs = performance.now() - started;
  t.is(a, b, 'two concurrent asks for one host got one certificate');
  const lookups = 10_000;
  const cachedStart = performance.now();
  for (let i = 0; i < lookups; i++) await ca.secureContextFor('a.example');
  const cachedUs = ((performance.now() - cachedStart) / lookups) * 1000;
  t.log(`first mint ${mintMs.toFixed(1)} ms, cached lookup ${cachedUs.toFixed(1)} µs`);
  t.true(cachedUs < 1000, 'a cached lookup costs no mint');
  for (const h of ['b.example', 'c.example', 'd.example']) await ca.leafFor(h);
  t.is(ca.cachedHosts, 3);
  t.not(await ca.leafFor('a.example'), a, 'the least recently used host was dropped and is minted again');
});

async function tlsServer(t: import('ava').ExecutionContext, ca: ProxyCa, host: string): Promise<number> {
  const context = await ca.secureContextFor(host);
  const server = createServer({ SNICallback: (_name, cb) => cb(null, context) }, (s) => s.end('hello over tls\n'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as { port: number }).port;
}

function tlsHello(port: number, ca: string, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: TLSSocket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
      let text = '';
      socket.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => resolve(text));
    });
    socket.on('error', reject);
  });
}

test('node TLS trusts a leaf for its own name with the CA, and refuses it for another name', async (t) => {
  const ca = await ProxyCa.load({ dir: await tmpDir(t), logger: silentLogger() });
  const port = await tlsServer(t, ca, 'files.example');
  t.is(await tlsHello(port, ca.certificatePem, 'files.example'), 'hello over tls\n');
  const err = await t.throwsAsync(tlsHello(port, ca.certificatePem, 'other.example'));
  t.regex(err!.message, /Hostname\/IP does not match certificate's altnames/);
});
