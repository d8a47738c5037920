import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { ManagerClient } from '../../core/protocol/manager/index.js';
import { runCli, startCli, waitForOutput } from '../support/run-cli.js';
import { P2PCluster } from '../e2e/p2p-cluster.js';
import { ROOT_PASSWORD } from './manager-harness.js';

test('security.fromManager over https with a CA of d7y cert init: a peer naming it in peer.manager.ca gets the credential; without it, start is refused naming that option', async (t) => {
  t.timeout(180_000);
  const cluster = await P2PCluster.create(t);
  const pki = join(cluster.dir, 'pki');
  for (const args of [['init', '--dir', pki], ['issue', '--dir', pki, '--name', 'manager', '--ip', '127.0.0.1']]) {
    const r = await runCli(['cert', ...args]);
    t.is(r.code, 0, r.stderr);
  }
  const ca = join(pki, 'ca.crt');
  const managerConfig = join(cluster.dir, 'manager.json');
  await writeFile(managerConfig, JSON.stringify({
    dataDir: join(cluster.dir, 'manager'), pluginsFile: cluster.pluginsFile, log: { level: 'warn' },
    security: { tls: { mode: 'server', ca, cert: join(pki, 'manager.crt'), key: join(pki, 'manager.key') } },
    manager: { listen: { host: '127.0.0.1', port: 0 }, rootPassword: ROOT_PASSWORD },
  }));
  const manager = startCli(t, ['manager', '--config', managerConfig]);
  const ready = await waitForOutput(manager, /d7y: ready: manager \{"listen":"127\.0\.0\.1:(\d+)"/, 60_000);
  const url = `https://127.0.0.1:${/"listen":"127\.0\.0\.1:(\d+)"/.exec(ready)![1]}`;
  const root = new ManagerClient({ url, ca });
  t.teardown(() => root.close());
  await root.signIn('root', ROOT_PASSWORD);
  const token = (await root.createToken({ name: 'peers', scopes: ['cluster'] })).token;
  const asPeer = new ManagerClient({ url, token, ca });
  t.teardown(() => asPeer.close());
  const issued = await asPeer.call<{ cluster_secret: string }>('GET', '/oapi/v1/cluster-credential');

  const peerConfig = async (name: string, link: Record<string, unknown>): Promise<{ file: string; dataDir: string }> => {
    const dataDir = join(cluster.dir, name);
    const file = join(cluster.dir, `${name}.json`);
    await writeFile(file, JSON.stringify({
      dataDir, pluginsFile: cluster.pluginsFile, log: { level: 'warn' }, security: { fromManager: true },
      peer: { dataDir, socket: join(dataDir, 'peer.sock'), host: { ip: '127.0.0.1', hostname: name },
        upload: { port: 0 }, rpc: { port: 0 }, pieceHttp: { port: 0 }, proxy: { enabled: false }, metrics: { enabled: false },
        manager: { url, token, cluster: 'edge', ...link } },
    }));
    return { file, dataDir };
  };

  const named = await peerConfig('named', { ca });
  const peer = startCli(t, ['peer', '--config', named.file]);
  await waitForOutput(peer, /d7y: ready/, 60_000);
  const kept = JSON.parse(await readFile(join(named.dataDir, 'manager-credential.json'), 'utf8')) as { cluster_secret: string };
  t.is(kept.cluster_secret, issued.cluster_secret, 'the peer holds the credential the https manager issued');

  const unnamed = await peerConfig('unnamed', {});
  const refused = await runCli(['peer', '--config', unnamed.file], { timeoutMs: 30_000 });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /manager https:\/\/127\.0\.0\.1:\d+: TLS handshake failed: the certificate the manager presented is not signed by a CA this node trusts/);
  t.regex(refused.stderr, /fix: set peer\.manager\.ca to the PEM file of the CA that signed the manager's certificate/);
  t.false(/at .*\.js:\d+/.test(refused.stderr), 'no stack trace');
});
