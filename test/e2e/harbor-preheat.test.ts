import test from 'ava';
import { connect } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import type { JobView } from '../../core/protocol/manager/index.js';
import { startAllInOne } from '../support/all-in-one.js';
import { cachedFixture } from '../support/artifact-fixture.js';
import { pushImage, startRegistry } from '../support/registry.js';
import { runCli } from '../support/run-cli.js';

const ROOT_PASSWORD = 'harbor-root-password-1';

/*
 * Harbor's Dragonfly preheat provider (src/pkg/p2p/preheat/provider/dragonfly.go) as it talks to a
 * manager: Go's net/http client writes the request line, Host, User-Agent, Content-Length, then the
 * headers Harbor sets (Accept, Authorization "Bearer <PAT>" in OAUTH mode, Content-Type), then
 * Accept-Encoding; the body is encoding/json of its request struct, zero values included.
 */

interface GoResponse { status: number; headers: Record<string, string>; body: string }

/** One request written byte for byte as Go's http client writes it, on a fresh connection. */
function goRequest(port: number, method: 'GET' | 'POST', path: string, token: string, body?: string): Promise<GoResponse> {
  const head = [
    `${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'User-Agent: Go-http-client/1.1',
    ...(body !== undefined ? [`Content-Length: ${Buffer.byteLength(body)}`] : []),
    'Accept: application/json', `Authorization: Bearer ${token}`,
    ...(body !== undefined ? ['Content-Type: application/json'] : []),
    'Accept-Encoding: gzip',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let raw = Buffer.alloc(0);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`${method} ${path}: no answer`)); }, 15_000);
    socket.on('data', (d: Buffer) => {
      raw = Buffer.concat([raw, d]);
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = raw.subarray(0, end).toString('latin1').split('\r\n');
      const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const length = Number(headers['content-length'] ?? 0);
      if (raw.length - end - 4 < length) return;
      clearTimeout(timer);
      socket.end();
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, body: raw.subarray(end + 4, end + 4 + length).toString('utf8') });
    });
    socket.on('error', reject);
    socket.write(`${head}\r\n\r\n${body ?? ''}`);
  });
}

/** Harbor's dragonflyCreateJobRequest as encoding/json writes it (field order of the struct; Go escapes <, > and &). */
function harborCreateJobBody(url: string, headers: Record<string, string>, scope: string, clusterIds: number[] | null): string {
  const goString = (s: string) => JSON.stringify(s).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
  const goHeaders = `{${Object.keys(headers).sort().map((k) => `${goString(k)}:${goString(headers[k]!)}`).join(',')}}`;
  return `{"type":"preheat","args":{"type":"image","url":${goString(url)},"tag":"","filtered_query_params":"","headers":${goHeaders},`
    + `"scope":${goString(scope)},"concurrent_count":0,"timeout":0},"scheduler_cluster_ids":${clusterIds ? `[${clusterIds.join(',')}]` : 'null'}}`;
}

/*
 * What encoding/json needs to decode an answer into Harbor's dragonflyJobResponse: the kinds of the
 * fields it has (int, time.Time as RFC 3339, strings, slices of structs; null is always fine),
 * other keys ignored. A mismatch is an unmarshal error in Harbor, which marks the preheat failed.
 */
const goTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/, 'RFC 3339 time');
const goString = z.string().nullish();
const task = z.object({ url: goString, hostname: goString, ip: goString, description: goString }).nullish();
const HarborJobResponse = z.object({
  id: z.number().int().min(-(2 ** 63)).max(2 ** 63 - 1),
  created_at: goTime,
  updated_at: goTime,
  state: z.string(),
  result: z.object({
    job_states: z.array(z.object({
      error: goString,
      results: z.array(z.object({
        success_tasks: z.array(task).nullish(),
        failure_tasks: z.array(task).nullish(),
        scheduler_cluster_id: z.number().int().min(0).nullish(),
      })).nullish(),
    })).nullish(),
  }).nullish(),
});
type HarborJob = z.infer<typeof HarborJobResponse>;

test('Harbor\'s Dragonfly provider, byte for byte: its ping, preheat and progress calls work against a real manager and the image lands on the seed peer', async (t) => {
  t.timeout(240_000);
  const registry = await startRegistry(t);
  await pushImage(`oci:${join(await cachedFixture('build-oci-images.sh'), 'layout')}:amd64`, registry, 'library/app:v1');
  const node = await startAllInOne(t, { manager: { rootPassword: ROOT_PASSWORD } });
  const port = Number(new URL(node.managerUrl).port);
  const created = await runCli(['token', 'create', 'harbor', '--scope', 'job', '--user', 'root', '--manager', node.managerUrl, '--json'],
    { env: { D7Y_PASSWORD: ROOT_PASSWORD } });
  t.is(created.code, 0, created.stderr);
  const pat = (JSON.parse(created.stdout) as { token: string }).token;

  const ping = await goRequest(port, 'GET', '/healthy', pat);
  t.is(ping.status, 200, 'GetHealth: any 2xx is healthy');
  t.is(JSON.parse(ping.body), 'OK', 'the body Dragonfly answers');

  const clusters = await fetch(`${node.managerUrl}/oapi/v1/clusters`, { headers: { authorization: `Bearer ${pat}` } });
  t.is(clusters.status, 403, 'a token with the job scope only cannot list clusters');
  const listed = await runCli(['token', 'create', 'ops', '--scope', 'cluster', '--user', 'root', '--manager', node.managerUrl, '--json'], { env: { D7Y_PASSWORD: ROOT_PASSWORD } });
  const ops = (JSON.parse(listed.stdout) as { token: string }).token;
  const [cluster] = await (await fetch(`${node.managerUrl}/oapi/v1/clusters`, { headers: { authorization: `Bearer ${ops}` } })).json() as { id: string; number: number }[];
  t.is(cluster!.number, 1, 'the node\'s scheduler cluster has the integer id 1');

  const manifest = `http://${registry.host}/v2/library/app/manifests/v1`;
  const registryAuth = { Authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.harbor-robot.c2ln' };
  const post = await goRequest(port, 'POST', '/oapi/v1/jobs', pat, harborCreateJobBody(manifest, registryAuth, 'single_seed_peer', [cluster!.number]));
  t.is(post.status, 200, post.body);
  const job: HarborJob = HarborJobResponse.parse(JSON.parse(post.body));
  t.true(Number.isInteger(job.id) && job.id > 0, `an integer job id: ${job.id}`);
  t.is(job.state, 'PENDING');

  let progress: HarborJob = job;
  const deadline = Date.now() + 120_000;
  while (progress.state === 'PENDING' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const get = await goRequest(port, 'GET', `/oapi/v1/jobs/${String(job.id)}`, pat);
    t.is(get.status, 200, get.body);
    progress = HarborJobResponse.parse(JSON.parse(get.body));
  }
  t.is(progress.state, 'SUCCESS', JSON.stringify(progress));
  const results = (progress.result?.job_states ?? []).flatMap((s) => s.results ?? []);
  t.deepEqual(results.map((r) => r.scheduler_cluster_id), [1], 'one result, of cluster 1');
  const blobs = results.flatMap((r) => r.success_tasks ?? []);
  t.true(blobs.length >= 3, `manifest, config and layers were preheated (${blobs.length})`);
  t.deepEqual(results.flatMap((r) => r.failure_tasks ?? []), []);

  const d7yId = (JSON.parse((await goRequest(port, 'GET', `/oapi/v1/jobs/${job.id}`, pat)).body) as { task_id: string }).task_id;
  const native = JSON.parse((await goRequest(port, 'GET', `/oapi/v1/jobs/${d7yId}`, pat)).body) as JobView;
  t.is(native.number, job.id, 'the d7y view of the same job');
  t.true(native.results.length >= 3 && native.results.every((r) => r.state === 'succeeded' && r.host_id.endsWith('-seed')), 'every blob landed on the seed peer');
  t.false(post.body.includes('harbor-robot'), 'the registry credential Harbor sent is never shown');

  const page = await goRequest(port, 'GET', '/oapi/v1/jobs?page=1&per_page=10', pat);
  t.is(page.status, 200);
  t.deepEqual((JSON.parse(page.body) as unknown[]).map((j) => HarborJobResponse.parse(j).id), [job.id]);
  t.regex(page.headers.link ?? '', /rel=next/, 'Dragonfly\'s Link header');

  const all = await goRequest(port, 'POST', '/oapi/v1/jobs', pat, harborCreateJobBody(manifest, registryAuth, '', null));
  t.is(all.status, 200, `no scope and null cluster ids mean the default scope in every cluster: ${all.body}`);
  t.is(HarborJobResponse.parse(JSON.parse(all.body)).id, job.id + 1);
});

test('what d7y cannot honour of a Dragonfly job request is a 400 naming the field; d7y\'s own shapes are untouched', async (t) => {
  t.timeout(120_000);
  const node = await startAllInOne(t, { manager: { rootPassword: ROOT_PASSWORD } });
  const port = Number(new URL(node.managerUrl).port);
  const created = await runCli(['token', 'create', 'harbor', '--user', 'root', '--manager', node.managerUrl, '--json'], { env: { D7Y_PASSWORD: ROOT_PASSWORD } });
  const pat = (JSON.parse(created.stdout) as { token: string }).token;
  const send = async (body: unknown) => {
    const r = await goRequest(port, 'POST', '/oapi/v1/jobs', pat, JSON.stringify(body));
    return { status: r.status, json: JSON.parse(r.body) as { code?: string; message?: string; fix?: string; id?: unknown } };
  };
  const gc = await send({ type: 'gc', args: {}, scheduler_cluster_ids: null });
  t.is(gc.status, 400);
  t.regex(gc.json.message!, /preheat, get_task and delete_task/);
  const seeds = await send({ type: 'preheat', args: { type: 'file', url: 'http://127.0.0.1:9/a', timeout: 0 }, seed_peer_cluster_ids: [1] });
  t.is(seeds.status, 400);
  t.regex(seeds.json.message!, /seed_peer_cluster_ids/);
  const storage = await send({ type: 'preheat', args: { type: 'file', url: 's3://b/k', object_storage: { access_key_id: 'x' }, timeout: 0 } });
  t.is(storage.status, 400);
  t.regex(storage.json.message!, /body\.args\.object_storage: .*source plugin/);
  const shortTimeout = await send({ type: 'preheat', args: { type: 'file', url: 'http://127.0.0.1:9/a', timeout: 5 }, scheduler_cluster_ids: null });
  t.is(shortTimeout.status, 400);
  t.regex(shortTimeout.json.message!, /body\.args\.timeout: 5 ns is under a second/);
  const unknownCluster = await send({ type: 'preheat', args: { type: 'file', url: 'http://127.0.0.1:9/a', timeout: 0 }, scheduler_cluster_ids: [99] });
  t.is(unknownCluster.status, 404);
  t.regex(unknownCluster.json.message!, /scheduler cluster 99 not found/);
  t.regex(unknownCluster.json.fix!, /"number"/);

  const own = await send({ type: 'get_task', args: { url: 'http://127.0.0.1:9/a' } });
  t.is(own.status, 201, 'a d7y body keeps d7y\'s answer');
  t.regex(String(own.json.id), /^[0-9a-f-]{36}$/);
  const missing = await goRequest(port, 'GET', '/oapi/v1/jobs/424242', pat);
  t.is(missing.status, 404);
});
