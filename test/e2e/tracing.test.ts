import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { startAllInOne } from '../support/all-in-one.js';
import { freePort, tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';

interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  service: string;
  attributes: Record<string, string>;
}

interface OtlpAttribute { key: string; value: { stringValue?: string; intValue?: string | number } }
interface OtlpExport {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: Array<{ spans?: Array<{ name: string; traceId: string; spanId: string; parentSpanId?: string; attributes?: OtlpAttribute[] }> }>;
  }>;
}

const flat = (attrs: OtlpAttribute[] = []): Record<string, string> =>
  Object.fromEntries(attrs.map((a) => [a.key, String(a.value.stringValue ?? a.value.intValue ?? '')]));

/** A tiny OTLP/HTTP (JSON) traces receiver on 127.0.0.1, stopped in teardown. */
async function startReceiver(t: ExecutionContext) {
  const spans: ReceivedSpan[] = [];
  const port = await freePort();
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces' && /json/.test(req.headers['content-type'] ?? '')) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
        for (const rs of body.resourceSpans ?? []) {
          const service = flat(rs.resource?.attributes)['service.name'] ?? '';
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) spans.push({ name: s.name, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId || undefined, service, attributes: flat(s.attributes) });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }));
  return { endpoint: `http://127.0.0.1:${port}/v1/traces`, spans };
}

test('with tracing on, one download is one trace: d7y get → the daemon → the scheduler → the parent, each span carrying the task id', async (t) => {
  const receiver = await startReceiver(t);
  const tracing = { D7Y_TRACING__ENABLED: 'true', D7Y_TRACING__ENDPOINT: receiver.endpoint };
  const file = randomBytes(9 * 1024 * 1024);
  const origin = await startOriginServer(t, { files: { '/traced.bin': file } });
  const node = await startAllInOne(t, { env: tracing });
  const dir = await tmpDir(t);
  const get = await runCli(['get', origin.urlOf('/traced.bin'), '-O', join(dir, 'out.bin'), '--socket', node.socket, '--json'], { env: tracing, timeoutMs: 60_000 });
  t.is(get.code, 0, get.stderr);
  const { taskId } = JSON.parse(get.stdout) as { taskId: string };

  const cli = () => receiver.spans.find((s) => s.name === 'd7y.get');
  const named = (name: string) => receiver.spans.filter((s) => s.name === name && s.traceId === cli()?.traceId);
  const until = Date.now() + 20_000;
  while (Date.now() < until && !(cli() && named('d7y.download').length && named('d7y.scheduler.announce_peer').length && named('d7y.peer.sync_pieces').length)) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const root = cli();
  if (!root) return t.fail(`no d7y.get span arrived; got: ${receiver.spans.map((s) => s.name).join(', ')}`);
  t.is(root.attributes['d7y.task_id'], taskId, 'the CLI span names the task');
  const [download] = named('d7y.download').filter((s) => s.parentSpanId === root.spanId);
  if (!download) return t.fail('no d7y.download span of the daemon under the CLI span');
  t.is(download.attributes['d7y.task_id'], taskId);
  const announce = named('d7y.scheduler.announce_peer').filter((s) => s.parentSpanId === download.spanId);
  t.true(announce.length >= 1, 'the scheduler span is a child of the daemon span');
  t.true(announce.every((s) => s.attributes['d7y.task_id'] === taskId));
  const sync = named('d7y.peer.sync_pieces').filter((s) => s.parentSpanId === download.spanId);
  t.true(sync.length >= 1, 'the parent (the seed peer) span is a child of the daemon span');
  t.true(sync.every((s) => s.attributes['d7y.task_id'] === taskId));
  t.true(receiver.spans.every((s) => s.service === 'd7y'), 'service.name is d7y');
});

test('with tracing off (the default), nothing is sent', async (t) => {
  const receiver = await startReceiver(t);
  const file = randomBytes(64 * 1024);
  const origin = await startOriginServer(t, { files: { '/plain.bin': file } });
  const node = await startAllInOne(t, { env: { D7Y_TRACING__ENDPOINT: receiver.endpoint } });
  const dir = await tmpDir(t);
  const get = await runCli(['get', origin.urlOf('/plain.bin'), '-O', join(dir, 'out.bin'), '--socket', node.socket], { env: { D7Y_TRACING__ENDPOINT: receiver.endpoint } });
  t.is(get.code, 0, get.stderr);
  await new Promise((r) => setTimeout(r, 1500));
  t.deepEqual(receiver.spans, []);
});
