import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const dist = fileURLToPath(new URL('../../', import.meta.url));

/**
 * In a fresh node: every client that speaks HTTP with undici is built as a peer builds them at
 * start, and only a first request loads undici. The script prints whether undici was loaded after
 * each step.
 */
const script = `
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/undici/'));
const { HttpSourceClient } = await import('${dist}sources/http/http-source-client.js');
const { DirectForward } = await import('${dist}core/roles/peer/proxy/direct-forward.js');
const { ManagerClient } = await import('${dist}core/protocol/manager/manager-client.js');
const { RepoHttp } = await import('${dist}core/source-kit/repo-http.js');
const { silentLogger } = await import('${dist}core/index.js');
const source = new HttpSourceClient();
const clients = [new DirectForward({ logger: silentLogger(), timeoutMs: 1000 }), new ManagerClient({ url: 'http://127.0.0.1:1' }), new RepoHttp([], 1000)];
const built = loaded();
const server = createServer((req, res) => { res.writeHead(200, { 'content-length': 5 }); res.end(req.method === 'HEAD' ? undefined : 'hello'); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const stat = await source.stat({ url: 'http://127.0.0.1:' + server.address().port + '/f' });
const used = loaded();
await source.stop();
for (const c of clients) await c.close();
server.close();
console.log(JSON.stringify({ built, used, length: stat.contentLength }));
`;

test('a peer builds its HTTP clients without loading undici; the first origin request loads it', async (t) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
  const r = JSON.parse(stdout.trim().split('\n').pop()!) as { built: boolean; used: boolean; length: number };
  t.false(r.built, 'building the source, the proxy forwarder, the manager client and a repository client loads no undici');
  t.true(r.used, 'the first request to an origin does');
  t.is(r.length, 5, 'and is answered');
});
