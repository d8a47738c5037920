import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { startAllInOne, type AllInOne } from '../support/all-in-one.js';
import { curl } from '../support/curl.js';
import { freePort, repoRoot, tmpDir } from '../support/env.js';
import { startOriginServer } from '../support/origin-server.js';
import { runCli } from '../support/run-cli.js';
import { scrape, type Scrape } from '../support/prom-scrape.js';

const MiB = 1024 * 1024;

/** The `/metrics` URL of each role of a `d7y up` node, from its start banner. */
function metricsUrls(node: AllInOne): Record<'manager' | 'scheduler' | 'seed-peer' | 'peer', string> {
  const of = (role: string): string => {
    const ready = /^d7y: ready: (.*)$/m.exec(node.banner)?.[1] ?? '';
    const m = new RegExp(`(?:^|; )${role} \\{.*?"metrics":"([^"]+)"`).exec(ready);
    if (!m) throw new Error(`no metrics URL for ${role} in the banner: ${node.banner}`);
    return m[1]!;
  };
  return { manager: `${node.managerUrl}/metrics`, scheduler: of('scheduler'), 'seed-peer': of('seed-peer'), peer: of('peer') };
}

/** Scrapes until `ready` holds for the scrape (counters of the last report may land a moment after the CLI returns). */
async function scrapeUntil(url: string, ready: (s: Scrape) => boolean, timeoutMs = 15_000): Promise<Scrape> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const s = await scrape(url);
    if (ready(s) || Date.now() > until) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function startNode(t: ExecutionContext) {
  const [schedulerPort, peerPort] = [await freePort(), await freePort()];
  const node = await startAllInOne(t, {
    env: { D7Y_SCHEDULER__METRICS__LISTEN__PORT: String(schedulerPort), D7Y_PEER__METRICS__LISTEN__PORT: String(peerPort) },
  });
  return { node, urls: metricsUrls(node), schedulerPort, peerPort };
}

test.serial('each role counts a known download: back to source through the seed, then a local hit, then through the proxy', async (t) => {
  const size = 12 * MiB + 12_345;
  const file = randomBytes(size);
  const origin = await startOriginServer(t, { files: { '/f.bin': file } });
  const { node, urls, schedulerPort, peerPort } = await startNode(t);
  t.is(urls.scheduler, `http://127.0.0.1:${schedulerPort}/metrics`, 'the scheduler serves metrics where it was told');
  t.is(urls.peer, `http://127.0.0.1:${peerPort}/metrics`, 'the peer serves metrics where it was told');
  t.is(urls['seed-peer'], `http://127.0.0.1:${peerPort + 10}/metrics`, 'the seed peer of d7y up serves them 10 ports up');
  const dir = await tmpDir(t);
  const get = (name: string) => runCli(['get', origin.urlOf('/f.bin'), '-O', join(dir, name), '--socket', node.socket, '--no-progress'], { timeoutMs: 60_000 });

  const first = await get('a.bin');
  t.is(first.code, 0, first.stderr);
  t.true((await readFile(join(dir, 'a.bin'))).equals(file));
  const seed = await scrapeUntil(urls['seed-peer'], (s) => s.value('d7y_peer_downloads_total', { result: 'succeeded' }) >= 1);
  t.is(seed.value('d7y_peer_download_bytes_total', { type: 'back_to_source' }), size, 'the seed read every byte from the origin');
  t.is(seed.value('d7y_peer_back_to_source_bytes_total', { source: 'http' }), size, 'through the http source plugin');
  t.is(seed.value('d7y_peer_back_to_source_total', { reason: 'seed_peer' }), 1, 'because it is the seed');
  t.is(seed.value('d7y_peer_download_bytes_total', { type: 'p2p' }), 0);
  t.true(seed.value('d7y_peer_upload_bytes_total') >= size, 'and sent the pieces on to the peer');
  t.true(seed.value('d7y_peer_piece_cost_seconds_count', { type: 'back_to_source' }) >= 4, 'one piece cost per piece');

  let peer = await scrape(urls.peer);
  t.is(peer.value('d7y_peer_download_bytes_total', { type: 'p2p' }), size, 'the peer got every byte from the seed');
  t.is(peer.value('d7y_peer_download_bytes_total', { type: 'back_to_source' }), 0, 'and none from the origin');
  t.is(peer.value('d7y_peer_back_to_source_total'), 0);
  t.is(peer.value('d7y_peer_download_bytes_total', { type: 'local_hit' }), 0);

  const second = await get('b.bin');
  t.is(second.code, 0, second.stderr);
  peer = await scrape(urls.peer);
  t.is(peer.value('d7y_peer_download_bytes_total', { type: 'local_hit' }), size, 'the second get was a local hit');
  t.is(peer.value('d7y_peer_download_bytes_total', { type: 'p2p' }), size, 'that moved nothing from peers');

  const proxied = await curl(['-x', node.proxy, '-H', 'X-Dragonfly-Use-P2P: true', origin.urlOf('/f.bin')]);
  t.is(proxied.status, 200);
  t.true(proxied.body.equals(file));
  peer = await scrapeUntil(urls.peer, (s) => s.value('d7y_peer_proxy_requests_total') >= 1);
  t.is(peer.value('d7y_peer_proxy_requests_total', { kind: 'proxy', outcome: 'p2p' }), 1, 'the proxy served it through the swarm');
  t.is(peer.value('d7y_peer_download_bytes_total', { type: 'local_hit' }), 2 * size, 'from the local copy');
  t.is(peer.value('d7y_peer_downloads_total', { result: 'succeeded' }), 3);
  t.is(peer.value('d7y_peer_errors_total'), 0);
  t.is(origin.served.bytes, size, 'the origin served the file once');

  const scheduler = await scrapeUntil(urls.scheduler, (s) => s.value('d7y_scheduler_downloads_total', { result: 'succeeded' }) >= 2);
  t.is(scheduler.value('d7y_scheduler_downloads_total', { result: 'succeeded' }), 2, 'the seed and the peer reported their downloads');
  t.is(scheduler.value('d7y_scheduler_back_to_source_total', { reason: 'seed_peer' }), 1, 'the scheduler sent only the seed to the origin');
  t.is(scheduler.value('d7y_scheduler_download_bytes_total', { type: 'back_to_source' }), size);
  t.is(scheduler.value('d7y_scheduler_download_bytes_total', { type: 'p2p' }), size);
  t.is(scheduler.value('d7y_scheduler_hosts'), 2, 'it knows the seed peer and the peer');
  t.is(scheduler.value('d7y_scheduler_tasks'), 1);

  const manager = await scrape(urls.manager);
  t.true(manager.value('d7y_manager_http_requests_total') > 0, 'the manager counted the keepalives of its roles');

  const small = randomBytes(100_000);
  origin.setFile('/small.bin', small);
  const direct = await runCli(['get', origin.urlOf('/small.bin'), '-O', join(dir, 'small.bin'), '--socket', node.socket, '--no-progress']);
  t.is(direct.code, 0, direct.stderr);
  const missing = await runCli(['get', origin.urlOf('/missing.bin'), '-O', join(dir, 'missing.bin'), '--socket', node.socket, '--no-progress']);
  t.not(missing.code, 0);
  peer = await scrape(urls.peer);
  t.is(peer.value('d7y_peer_back_to_source_total', { reason: 'small_object' }), 1, 'a small object goes straight to the origin, and says so');
  t.is(peer.value('d7y_peer_download_bytes_total', { type: 'back_to_source' }), small.length);
  t.is(peer.value('d7y_peer_back_to_source_bytes_total', { source: 'http' }), small.length);
  t.is(peer.value('d7y_peer_downloads_total', { result: 'failed' }), 1, 'the get of a missing object failed');
  t.is(peer.value('d7y_peer_errors_total'), 1, 'and its error was counted by code');
});

/** Every metric name a PromQL expression selects; fails on a syntax error. */
function metricNames(expr: string): string[] {
  const promql = expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replaceAll('$instance', '.*');
  const names: string[] = [];
  const errors: number[] = [];
  parser.parse(promql).iterate({
    enter: (n) => {
      if (n.type.isError) errors.push(n.from);
      if (n.name === 'Identifier' && n.node.parent?.name === 'VectorSelector') names.push(promql.slice(n.from, n.to));
    },
  });
  if (errors.length) throw new Error(`PromQL syntax error at ${errors[0]} in: ${promql}`);
  return names;
}

test.serial('every query of the Grafana dashboard parses and names only metrics the running roles export', async (t) => {
  const dashboard = JSON.parse(await readFile(join(repoRoot, 'deploy/grafana/d7y.json'), 'utf8')) as {
    panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    templating: { list: Array<{ definition?: string }> };
  };
  const { urls } = await startNode(t);
  const live = await Promise.all(Object.values(urls).map((u) => scrape(u)));
  const exported = (name: string): boolean => live.some((s) => s.exports(name));
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ panel: p.title, expr: q.expr })));
  t.true(queries.length >= 20, `${queries.length} queries`);
  const named = new Set<string>();
  for (const q of queries) {
    let names: string[] = [];
    t.notThrows(() => { names = metricNames(q.expr); }, `panel "${q.panel}"`);
    t.true(names.length > 0, `panel "${q.panel}" names a metric: ${q.expr}`);
    for (const n of names) named.add(n);
  }
  for (const v of dashboard.templating.list) {
    const m = /^label_values\((\w+),/.exec(v.definition ?? '');
    if (m) named.add(m[1]!);
  }
  const missing = [...named].filter((n) => !exported(n));
  t.deepEqual(missing, [], 'metrics the dashboard queries but no role exports');
  t.true(named.size >= 20, `the dashboard reads ${named.size} metrics`);
});
