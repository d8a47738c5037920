import test, { type ExecutionContext } from 'ava';
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { D7yError } from '../../../errors/d7y-error.js';
import { silentLogger, type Logger } from '../../../logging/logger.js';
import { freePort, tmpDir } from '../../../../test/support/env.js';
import { createConnectHandler, type ConnectHandlerOptions } from './connect-handler.js';
import { ProxyCa } from './proxy-ca.js';

interface Curl { code: number; stdout: string; stderr: string }

function curl(args: string[]): Promise<Curl> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

async function listen(t: ExecutionContext, server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => new Promise<void>((r) => {
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    server.close(() => r());
  }));
  return (server.address() as { port: number }).port;
}

/** Debug log lines, for asserting what the handler reports. */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _enc, cb) { lines.push(chunk.toString()); cb(); } });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

interface Setup {
  dir: string;
  caFile: string;
  ca: ProxyCa;
  /** The HTTPS origin on localhost, its certificate minted by the CA. */
  originPort: number;
  originBody: Buffer;
  originHits: () => number;
}

async function setup(t: ExecutionContext): Promise<Setup> {
  const dir = await tmpDir(t);
  const ca = await ProxyCa.load({ dir, logger: silentLogger() });
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, ca.certificatePem);
  const leaf = await ca.leafFor('localhost');
  const originBody = randomBytes(1024 * 1024 + 17);
  let hits = 0;
  const origin = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (_req, res) => {
    hits++;
    res.end(originBody);
  });
  return { dir, caFile, ca, originPort: await listen(t, origin), originBody, originHits: () => hits };
}

interface Proxy { port: number; seen: IncomingMessage[]; sockets: Set<unknown> }

async function startProxy(t: ExecutionContext, opts: Partial<ConnectHandlerOptions> & Pick<ConnectHandlerOptions, 'hijack' | 'ca'>): Promise<Proxy> {
  const seen: IncomingMessage[] = [];
  const sockets = new Set<unknown>();
  const handler = createConnectHandler({
    logger: silentLogger(),
    connectTimeoutMs: 5000,
    idleTimeoutMs: 30_000,
    onRequest: (req, res) => {
      seen.push(req);
      sockets.add(req.socket);
      res.end(`saw ${req.method} ${req.url}\n`);
    },
    ...opts,
  });
  const server = createHttpServer((_req, res) => res.end('plain proxy\n'));
  server.on('connect', handler);
  t.teardown(() => handler.close());
  return { port: await listen(t, server), seen, sockets };
}

/** Sends a raw CONNECT line and returns everything the proxy answered before it closed. */
function rawConnect(proxyPort: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    let text = '';
    s.setEncoding('latin1').on('data', (d: string) => { text += d; });
    s.on('end', () => resolve(text));
    s.on('error', reject);
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error(`no answer to CONNECT ${target}`)); });
  });
}

/** Opens a tunnel through the proxy and resolves with the socket once 200 came back. */
function openTunnel(proxyPort: number, target: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(proxyPort, '127.0.0.1', () => s.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    s.once('data', (d: Buffer) => {
      if (d.toString('latin1').startsWith('HTTP/1.1 200 ')) resolve(s);
      else reject(new Error(d.toString('latin1')));
    });
    s.on('error', reject);
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('a host not hijacked is tunnelled: curl gets the origin\'s bytes, verified against its certificate', async (t) => {
  const s = await setup(t);
  const proxy = await startProxy(t, { hijack: () => false, ca: s.ca });
  const out = join(s.dir, 'out');
  const r = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', s.caFile, '-o', out, `https://localhost:${s.originPort}/x`]);
  t.is(r.code, 0, r.stderr);
  t.is(sha(await readFile(out)), sha(s.originBody), 'bytes equal');
  t.is(s.originHits(), 1);
  t.is(proxy.seen.length, 0, 'nothing was decrypted');
});

test('a hijacked host is served by onRequest with the absolute URL, two requests on one tunnel', async (t) => {
  const s = await setup(t);
  const proxy = await startProxy(t, { hijack: (host, port) => host === 'localhost' && port === s.originPort, ca: s.ca });
  const base = `https://localhost:${s.originPort}`;
  const r = await curl(['-v', '-x', `http://127.0.0.1:${proxy.port}`, '--cacert', s.caFile, `${base}/x?a=1&b=2`, `${base}/y`]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `saw GET ${base}/x?a=1&b=2\nsaw GET ${base}/y\n`);
  t.deepEqual(proxy.seen.map((q) => q.url), [`${base}/x?a=1&b=2`, `${base}/y`]);
  t.is(proxy.sockets.size, 1, 'both requests came over one TLS connection');
  t.regex(r.stderr, /Re-using existing connection/);
  t.is(s.originHits(), 0, 'the origin was never contacted');
});

test('a client that does not trust the CA gets a certificate error; the proxy logs it and serves on', async (t) => {
  const s = await setup(t);
  const { logger, lines } = capturingLogger();
  const proxy = await startProxy(t, { hijack: () => true, ca: s.ca, logger });
  const url = `https://localhost:${s.originPort}/x`;
  const untrusting = await curl(['-x', `http://127.0.0.1:${proxy.port}`, url]);
  t.is(untrusting.code, 60, untrusting.stderr);
  t.regex(untrusting.stderr, /certificate/i);
  await new Promise((r) => setTimeout(r, 100));
  t.true(lines.some((l) => /"level":20/.test(l) && /TLS with a hijacked client failed/.test(l) && /unknown ca|bad certificate|certificate unknown/i.test(l)), lines.join(''));
  const trusting = await curl(['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', s.caFile, url]);
  t.is(trusting.code, 0, trusting.stderr);
  t.is(trusting.stdout, `saw GET ${url}\n`);
});

test('the client\'s SNI wins over the CONNECT host, port 443 is left out, and allowTarget is asked for the SNI name too', async (t) => {
  const s = await setup(t);
  const asked: string[] = [];
  const proxy = await startProxy(t, {
    hijack: () => true, ca: s.ca,
    allowTarget: (host, port) => {
      asked.push(`${host}:${port}`);
      return host === 'internal.example' ? new D7yError('D7Y_PERMISSION_DENIED', `no proxying to ${host}`) : undefined;
    },
  });
  const via = ['-x', `http://127.0.0.1:${proxy.port}`, '--cacert', s.caFile];
  const r = await curl([...via, '--connect-to', 'mirror.example:443:localhost:443', 'https://mirror.example/v2/']);
  t.is(r.code, 0, r.stderr);
  t.is(proxy.seen[0]?.url, 'https://mirror.example/v2/', 'nothing listens on 443: the tunnel was answered by the proxy itself');
  t.deepEqual(asked, ['localhost:443', 'mirror.example:443']);
  const refused = await curl([...via, '-w', '%{http_code}', '--connect-to', 'internal.example:443:localhost:443', 'https://internal.example/']);
  t.is(refused.stdout, 'no proxying to internal.example\n403');
  t.is(proxy.seen.length, 1);
});

test('CONNECT to a closed port gets 502 saying it was refused; a malformed target or port gets 400', async (t) => {
  const s = await setup(t);
  const proxy = await startProxy(t, { hijack: () => false, ca: s.ca });
  const closed = await freePort();
  const refused = await rawConnect(proxy.port, `127.0.0.1:${closed}`);
  t.regex(refused, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
  t.regex(refused, new RegExp(`127\\.0\\.0\\.1:${closed} refused the connection\\n$`));
  const viaCurl = await curl(['-x', `http://127.0.0.1:${proxy.port}`, `https://127.0.0.1:${closed}/`]);
  t.not(viaCurl.code, 0);
  t.regex(viaCurl.stderr, /502/);
  for (const [target, why] of [['localhost', /is not host:port/], ['localhost:0', /port 0, outside 1\.\.65535/], ['localhost:65536', /port 65536, outside/], ['[nothex]:443', /is not host:port/]] as const) {
    const answer = await rawConnect(proxy.port, target);
    t.regex(answer, /^HTTP\/1\.1 400 /, target);
    t.regex(answer, why, target);
  }
});

test('allowTarget refuses with the status of its error', async (t) => {
  const s = await setup(t);
  const proxy = await startProxy(t, {
    hijack: () => false, ca: s.ca,
    allowTarget: (host, port) => port === s.originPort ? new D7yError('D7Y_PERMISSION_DENIED', `the proxy does not tunnel to ${host}:${port}`) : undefined,
  });
  const answer = await rawConnect(proxy.port, `localhost:${s.originPort}`);
  t.regex(answer, /^HTTP\/1\.1 403 Forbidden\r\n/);
  t.regex(answer, new RegExp(`does not tunnel to localhost:${s.originPort}`));
});

test('a client that resets mid-tunnel, or mid-TLS, leaves the proxy serving', async (t) => {
  const s = await setup(t);
  const proxy = await startProxy(t, { hijack: () => false, ca: s.ca });
  const echo = createTcpServer((c) => c.pipe(c));
  const echoPort = await listen(t, echo);
  const tunnel = await openTunnel(proxy.port, `127.0.0.1:${echoPort}`);
  tunnel.write('ping');
  const [echoed] = await once(tunnel, 'data') as [Buffer];
  t.is(echoed.toString(), 'ping', 'bytes go both ways');
  tunnel.resetAndDestroy();
  const hijacking = await startProxy(t, { hijack: () => true, ca: s.ca });
  const tls = await openTunnel(hijacking.port, `localhost:${s.originPort}`);
  tls.write(randomBytes(40));
  tls.resetAndDestroy();
  await new Promise((r) => setTimeout(r, 200));
  for (const p of [proxy, hijacking]) {
    const r = await curl(['-x', `http://127.0.0.1:${p.port}`, '--cacert', s.caFile, `https://localhost:${s.originPort}/x`, '-o', join(s.dir, 'again')]);
    t.is(r.code, 0, r.stderr);
  }
});

test('an idle tunnel is closed after idleTimeoutMs', async (t) => {
  const s = await setup(t);
  const proxy = await startProxy(t, { hijack: () => false, ca: s.ca, idleTimeoutMs: 300 });
  const silent = createTcpServer(() => undefined);
  const port = await listen(t, silent);
  const started = Date.now();
  const tunnel = await openTunnel(proxy.port, `127.0.0.1:${port}`);
  await once(tunnel, 'close');
  const waited = Date.now() - started;
  t.true(waited >= 300 && waited < 5000, `closed after ${waited} ms`);
});

test('a target that never answers the connect gets 504 after connectTimeoutMs', async (t) => {
  const s = await setup(t);
  const port = await freePort();
  const py = spawn('python3', ['-c', `import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',${port}))\ns.listen(0)\nprint('up',flush=True)\ntime.sleep(60)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { py.kill('SIGKILL'); });
  await once(py.stdout!, 'data');
  const fillers: Socket[] = [];
  t.teardown(() => { for (const f of fillers) f.destroy(); });
  for (let i = 0; i < 3; i++) fillers.push(connect(port, '127.0.0.1').on('error', () => undefined));
  await new Promise((r) => setTimeout(r, 200));
  const proxy = await startProxy(t, { hijack: () => false, ca: s.ca, connectTimeoutMs: 400 });
  const answer = await rawConnect(proxy.port, `127.0.0.1:${port}`);
  t.regex(answer, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
  t.regex(answer, /took more than 400 ms/);
});

test('close() ends the open tunnels and hijacked connections', async (t) => {
  const s = await setup(t);
  const seen: IncomingMessage[] = [];
  const handler = createConnectHandler({
    hijack: (_host, port) => port === s.originPort, ca: s.ca, logger: silentLogger(), connectTimeoutMs: 5000, idleTimeoutMs: 30_000,
    onRequest: (req) => { seen.push(req); },
  });
  const server = createHttpServer();
  server.on('connect', handler);
  const port = await listen(t, server);
  const echo = createTcpServer((c) => c.pipe(c));
  const tunnel = await openTunnel(port, `127.0.0.1:${await listen(t, echo)}`);
  const hanging = curl(['-x', `http://127.0.0.1:${port}`, '--cacert', s.caFile, `https://localhost:${s.originPort}/slow`]);
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 20));
  handler.close();
  await once(tunnel, 'close');
  const r = await hanging;
  t.not(r.code, 0, 'the request that was never answered ends when the proxy closes');
  t.true(tunnel.destroyed);
});

test('bytes the client sent right behind the CONNECT reach the target first', async (t) => {
  const s = await setup(t);
  const proxy = await startProxy(t, { hijack: () => false, ca: s.ca });
  const echo = createTcpServer((c) => c.pipe(c));
  const echoPort = await listen(t, echo);
  const client = connect(proxy.port, '127.0.0.1');
  client.write(`CONNECT 127.0.0.1:${echoPort} HTTP/1.1\r\nHost: x\r\n\r\nearly bytes`);
  let text = '';
  client.setEncoding('latin1').on('data', (d: string) => { text += d; });
  while (!text.includes('early bytes')) await once(client, 'data');
  t.is(text, 'HTTP/1.1 200 Connection Established\r\n\r\nearly bytes');
  client.destroy();
});
