import { randomBytes } from 'node:crypto';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { connect } from 'node:tls';
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { tmpDir } from '../../../test/support/env.js';
import { D7yError } from '../../errors/d7y-error.js';
import { silentLogger } from '../../logging/logger.js';
import { VortexClient, VortexServer, type PieceProvider } from '../vortex/index.js';
import { initClusterCa, issueNodeCertificate } from './cluster-certificates.js';
import { NodeTls } from './node-tls.js';

const TASK = 'cd'.repeat(32);

async function pki(t: ExecutionContext): Promise<{ dir: string; ca: string; cert: string; key: string }> {
  const dir = await tmpDir(t, 'd7y-pki-');
  await initClusterCa(dir);
  await issueNodeCertificate(dir, { name: 'n1', ips: ['127.0.0.1'] });
  return { dir, ca: join(dir, 'ca.crt'), cert: join(dir, 'n1.crt'), key: join(dir, 'n1.key') };
}

async function load(t: ExecutionContext, config: Parameters<typeof NodeTls.load>[0], serves = true): Promise<NodeTls> {
  const tls = (await NodeTls.load(config, { logger: silentLogger(), serves, watch: false }))!;
  t.teardown(() => tls.close());
  return tls;
}

function provider(data: Buffer): PieceProvider {
  return {
    getPiece: async (req) => ({
      meta: { number: req.number, offset: 0, length: data.length, digest: 'crc32:0', parentId: 'p', trafficType: 0, cost: 0, createdAt: 0 },
      body: Readable.from([data]),
    }),
  };
}

async function server(t: ExecutionContext, tls: NodeTls | undefined, data: Buffer): Promise<VortexServer> {
  const s = new VortexServer({ host: '127.0.0.1', port: 0, provider: provider(data), tls });
  await s.start();
  t.teardown(() => s.stop());
  return s;
}

function presentedSerial(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ca: [ca] }, () => {
      resolve(s.getPeerCertificate().serialNumber);
      s.destroy();
    });
    s.on('error', reject);
  });
}

test('mode server: Vortex over TLS carries a piece intact; a plain client and a client of another CA are refused with the file and the fix', async (t) => {
  const p = await pki(t);
  const srvTls = await load(t, { mode: 'server', ca: p.ca, cert: p.cert, key: p.key });
  const data = randomBytes(3 * 1024 * 1024);
  const srv = await server(t, srvTls, data);
  const addr = { host: '127.0.0.1', port: srv.port };

  const client = new VortexClient({ tls: await load(t, { mode: 'server', ca: p.ca }, false) });
  t.teardown(() => client.close());
  const { body } = await client.downloadPiece(addr, { taskId: TASK, number: 0 });
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  t.true(Buffer.concat(chunks).equals(data));

  const plain = new VortexClient({ connectTimeoutMs: 2_000, readTimeoutMs: 2_000 });
  t.teardown(() => plain.close());
  await t.throwsAsync(plain.openPiece(addr, { taskId: TASK, number: 0 }), { instanceOf: D7yError }, 'a plain client gets no piece');

  const other = await pki(t);
  const foreign = new VortexClient({ tls: await load(t, { mode: 'server', ca: other.ca }, false) });
  t.teardown(() => foreign.close());
  const err = await t.throwsAsync(foreign.openPiece(addr, { taskId: TASK, number: 0 })) as D7yError;
  t.is(err.code, 'D7Y_UNAUTHENTICATED');
  t.true(err.message.includes(`not signed by the CA in ${other.ca}`), err.message);
  t.regex(err.fix ?? '', /d7y cert issue|security\.tls\.ca/);
});

test('reload: a valid new certificate is served to new connections; files that do not match are kept out', async (t) => {
  const p = await pki(t);
  const tls = await load(t, { mode: 'mutual', ca: p.ca, cert: p.cert, key: p.key });
  const srv = await server(t, tls, Buffer.from('x'));
  const caPem = (await import('node:fs/promises')).readFile(p.ca, 'utf8');
  const before = await presentedSerial(srv.port, await caPem).catch(() => 'refused');
  t.is(await tls.reload(), false, 'unchanged files are not reloaded');

  await issueNodeCertificate(p.dir, { name: 'n1', ips: ['127.0.0.1'], force: true });
  t.is(await tls.reload(), true);
  t.is(tls.reloadCount, 1);
  const after = await presentedSerial(srv.port, await caPem).catch(() => 'refused');
  t.not(after, before, 'new connections see the new certificate');

  await issueNodeCertificate(p.dir, { name: 'n2', ips: ['127.0.0.1'] });
  await copyFile(join(p.dir, 'n2.key'), p.key);
  t.is(await tls.reload(), false, 'a key of another certificate is refused');
  t.is(tls.reloadCount, 1, 'the previous certificate stays in use');
});

test('load names the file at fault: a key of another certificate, an expired certificate, one of another CA, a missing file', async (t) => {
  const p = await pki(t);
  await issueNodeCertificate(p.dir, { name: 'n2', ips: ['127.0.0.1'] });
  const mismatch = await t.throwsAsync(NodeTls.load({ mode: 'mutual', ca: p.ca, cert: p.cert, key: join(p.dir, 'n2.key') }, { logger: silentLogger(), serves: true, watch: false })) as D7yError;
  t.regex(mismatch.message, /the key .*n2\.key does not belong to the certificate .*n1\.crt/);
  await issueNodeCertificate(p.dir, { name: 'old', ips: ['127.0.0.1'], days: 1, now: Date.now() - 5 * 86_400_000 });
  const expired = await t.throwsAsync(NodeTls.load({ mode: 'server', ca: p.ca, cert: join(p.dir, 'old.crt'), key: join(p.dir, 'old.key') }, { logger: silentLogger(), serves: true, watch: false })) as D7yError;
  t.regex(expired.message, /the certificate .*old\.crt expired on/);
  t.regex(expired.fix ?? '', /d7y cert issue/);
  const other = await pki(t);
  const foreign = await t.throwsAsync(NodeTls.load({ mode: 'server', ca: other.ca, cert: p.cert, key: p.key }, { logger: silentLogger(), serves: true, watch: false })) as D7yError;
  t.regex(foreign.message, /was not signed by the CA/);
  const missing = await t.throwsAsync(NodeTls.load({ mode: 'server', ca: join(p.dir, 'nope.crt') }, { logger: silentLogger(), serves: false, watch: false })) as D7yError;
  t.regex(missing.message, /cannot read security\.tls\.ca .*nope\.crt: ENOENT/);
  const noCert = await t.throwsAsync(NodeTls.load({ mode: 'server', ca: p.ca }, { logger: silentLogger(), serves: true, watch: false })) as D7yError;
  t.regex(noCert.message, /security\.tls\.cert is not set/);
});
