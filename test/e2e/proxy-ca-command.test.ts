import test from 'ava';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../core/logging/logger.js';
import { ProxyCa } from '../../core/roles/peer/proxy/proxy-ca.js';
import { tmpDir } from '../support/env.js';
import { runCli } from '../support/run-cli.js';

const NO_STACK = /\n\s+at .+:\d+:\d+/;

test('d7y proxy ca prints the peer\'s CA (made once, key 0600), says how to trust it, and the peer signs with it', async (t) => {
  const dataDir = await tmpDir(t);
  const env = { D7Y_DATA_DIR: dataDir };
  const first = await runCli(['proxy', 'ca'], { env });
  t.is(first.code, 0, first.stderr);
  const cert = new X509Certificate(first.stdout);
  t.true(cert.ca, 'a CA certificate');
  t.regex(cert.subject, /^CN=d7y proxy CA \(/);
  t.regex(first.stdout, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
  const keyFile = join(dataDir, 'peer', 'proxy-ca.key');
  t.is((await stat(keyFile)).mode & 0o777, 0o600);
  t.regex(first.stderr, /made now in .*\/peer\/proxy-ca\.crt/);
  t.regex(first.stderr, /cp \S+proxy-ca\.crt \/usr\/local\/share\/ca-certificates\/d7y-proxy\.crt && update-ca-certificates/);
  t.regex(first.stderr, /curl --cacert \S+proxy-ca\.crt/);

  const second = await runCli(['proxy', 'ca'], { env });
  t.is(second.code, 0, second.stderr);
  t.is(second.stdout, first.stdout, 'the same certificate: clients that trust it keep trusting it');
  t.regex(second.stderr, /proxy CA from /);

  const ca = await ProxyCa.load({ dir: join(dataDir, 'peer'), logger: silentLogger() });
  const printed = join(dataDir, 'printed.crt');
  await writeFile(printed, first.stdout);
  await writeFile(join(dataDir, 'leaf.crt'), (await ca.leafFor('registry.local')).certPem);
  t.regex(execFileSync('openssl', ['verify', '-CAfile', printed, join(dataDir, 'leaf.crt')], { encoding: 'utf8' }), /leaf\.crt: OK/,
    'a certificate the peer mints verifies against the printed CA');
});

test('d7y proxy ca --out writes the file; -c finds the peer\'s own data dir; a corrupt key is a message with the fix', async (t) => {
  const dir = await tmpDir(t);
  const peerDir = join(dir, 'elsewhere');
  const config = join(dir, 'node.yaml');
  await writeFile(config, `dataDir: ${join(dir, 'node')}\npeer:\n  dataDir: ${peerDir}\n`);
  const out = join(dir, 'd7y-proxy.crt');
  const written = await runCli(['proxy', 'ca', '-c', config, '--out', out]);
  t.is(written.code, 0, written.stderr);
  t.is(written.stdout, '');
  t.is(await readFile(out, 'utf8'), await readFile(join(peerDir, 'proxy-ca.crt'), 'utf8'));
  t.regex(written.stderr, new RegExp(`cp ${out} /usr/local/share/ca-certificates/d7y-proxy\\.crt`));

  await writeFile(join(peerDir, 'proxy-ca.key'), 'garbage\n');
  const broken = await runCli(['proxy', 'ca', '-c', config]);
  t.is(broken.code, 2, 'a configuration mistake');
  t.regex(broken.stderr, /proxy-ca\.key is not a PEM private key/);
  t.regex(broken.stderr, /fix: delete \S+proxy-ca\.crt and \S+proxy-ca\.key so that d7y makes a new CA/);
  t.notRegex(broken.stderr, NO_STACK);
});
