import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parseAllDocuments } from 'yaml';
import { nodeConfigOf } from '../../core/config/config-loader.js';
import type { NodeConfig } from '../../core/config/node-config.js';
import { freePort, repoRoot, tmpDir } from '../support/env.js';
import { runCli, startCli, waitForOutput } from '../support/run-cli.js';

const run = promisify(execFile);
const overlays = join(repoRoot, 'deploy/kubernetes/overlays');

/* eslint-disable @typescript-eslint/no-explicit-any */
type Obj = Record<string, any>;
interface Container { name: string; image: string; args?: string[]; command?: string[]; env?: Obj[]; ports?: { name: string; containerPort: number; hostPort?: number }[]; livenessProbe?: Obj; readinessProbe?: Obj; resources?: Obj; securityContext?: Obj; volumeMounts?: Obj[] }

async function render(overlay: string): Promise<Obj[]> {
  await run('bash', [join(repoRoot, 'scripts/test-deps.sh')]);
  const { stdout } = await run('kubectl', ['kustomize', join(overlays, overlay)], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((d) => d.toJSON() as Obj).filter(Boolean);
}

const workloads = (objs: Obj[]) => objs.filter((o) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(o.kind));
const d7yContainers = (w: Obj): Container[] => (w.spec.template.spec.containers as Container[]).filter((c) => c.image.startsWith('d7y'));

/** The role and config file a d7y container runs (`<role> --config <file>`), if it runs one. */
function roleOf(c: Container): { role: string; file: string } | undefined {
  const a = c.args ?? [];
  const i = a.indexOf('--config');
  return ['manager', 'scheduler', 'peer'].includes(a[0]!) && i > 0 ? { role: a[0]!, file: a[i + 1]! } : undefined;
}

/** The node config a container sees: its ConfigMap file, then the env the manifest sets (downward-API values as an address). */
function effectiveConfig(objs: Obj[], c: Container): NodeConfig {
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('d7y-config-'))!;
  const file = roleOf(c)!.file.split('/').pop()!;
  const env: NodeJS.ProcessEnv = {};
  for (const e of c.env ?? []) if (e.name.startsWith('D7Y_')) env[e.name] = e.value ?? '10.0.0.7';
  return nodeConfigOf(parseAllDocuments(cm.data[file])[0]!.toJSON(), file, env);
}

/** The ports a role listens on, by the container-port names the manifests use. */
function rolePorts(role: string, c: NodeConfig): Record<string, number> {
  if (role === 'manager') return { http: c.manager.listen.port };
  if (role === 'scheduler') return { grpc: c.scheduler.listen.port, metrics: c.scheduler.metrics.listen.port };
  return { rpc: c.peer.rpc.port, upload: c.peer.upload.port, 'piece-http': c.peer.pieceHttp.port, metrics: c.peer.metrics.listen.port };
}

const expected: Record<string, string[]> = {
  lightweight: ['ConfigMap/d7y-config', 'DaemonSet/d7y-peer', 'Namespace/d7y', 'PodDisruptionBudget/d7y-scheduler', 'PodDisruptionBudget/d7y-seed-peer',
    'Service/d7y-scheduler', 'Service/d7y-seed-peer', 'StatefulSet/d7y-scheduler', 'StatefulSet/d7y-seed-peer'],
};
expected.full = [...expected.lightweight, 'Deployment/d7y-manager', 'PodDisruptionBudget/d7y-manager', 'Service/d7y-manager', 'Service/d7y-postgres',
  'Service/d7y-redis', 'StatefulSet/d7y-postgres', 'StatefulSet/d7y-redis'].sort();

for (const overlay of ['lightweight', 'full']) {
  test(`${overlay}: renders the expected objects, ports match the node configs, probes hit the metrics listener's health endpoints`, async (t) => {
    const objs = await render(overlay);
    t.deepEqual(objs.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort(), expected[overlay]!.sort());
    t.true(objs.filter((o) => o.kind !== 'Namespace').every((o) => o.metadata.namespace === 'd7y'), 'every object is in the d7y namespace');
    const configMaps = new Set(objs.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name));
    const services = objs.filter((o) => o.kind === 'Service');

    for (const w of workloads(objs)) {
      const pod = w.spec.template.spec;
      const where = `${w.kind}/${w.metadata.name}`;
      for (const v of pod.volumes ?? []) {
        if (v.configMap) t.true(configMaps.has(v.configMap.name), `${where} mounts ConfigMap ${v.configMap.name}, which is rendered`);
      }
      for (const labels of objs.filter((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === w.metadata.name).map((o) => o.spec.selector.matchLabels)) {
        t.like(w.spec.template.metadata.labels, labels, `the PodDisruptionBudget of ${where} selects its pods`);
      }
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])] as Container[]) {
        t.truthy(c.resources?.requests && c.resources?.limits, `${where}/${c.name} has requests and limits`);
        t.is(c.securityContext?.allowPrivilegeEscalation, false, `${where}/${c.name} cannot escalate`);
      }
      for (const c of d7yContainers(w)) {
        const runs = roleOf(c);
        if (!runs) continue;
        t.not(c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, false, `${where}/${c.name} runs as a non-root user`);
        t.true(Boolean(c.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot), `${where}/${c.name} says runAsNonRoot`);
        t.true(c.securityContext?.readOnlyRootFilesystem, `${where}/${c.name} has a read-only root file system`);
        const config = effectiveConfig(objs, c);
        const ports = rolePorts(runs.role, config);
        for (const p of c.ports ?? []) {
          t.is(p.containerPort, ports[p.name], `${where}/${c.name} port ${p.name} is the one ${runs.file} listens on`);
          if (pod.hostNetwork) t.is(p.hostPort, p.containerPort, `${where}/${c.name} port ${p.name}: host port = container port on the host network`);
        }
        const probePort = runs.role === 'manager' ? 'http' : 'metrics';
        t.like(c.livenessProbe, { httpGet: { path: '/healthz', port: probePort } }, `${where} liveness`);
        t.like(c.readinessProbe, { httpGet: { path: '/readyz', port: probePort } }, `${where} readiness`);
        if (runs.role !== 'manager') {
          const ops = runs.role === 'scheduler' ? config.scheduler.metrics : config.peer.metrics;
          t.true(ops.enabled, `${runs.file} keeps the metrics listener (metrics, health) on`);
          t.is(ops.listen.host, '0.0.0.0', `${runs.file}: the kubelet and Prometheus reach the metrics listener`);
        }
        const svc: Obj | undefined = services.find((s) => s.metadata.name === w.metadata.name);
        for (const sp of svc?.spec.ports ?? []) {
          const target = (c.ports ?? []).find((p) => p.name === sp.targetPort);
          t.truthy(target, `Service ${svc!.metadata.name} port ${sp.name} targets a named port of ${where}`);
          t.is(sp.port, target?.containerPort, `Service ${svc!.metadata.name} port ${sp.name} is the container's`);
        }
        if (runs.role === 'peer' && !config.peer.seed) {
          t.true(pod.hostNetwork, 'the peer DaemonSet is on the host network');
          t.like(pod.volumes.find((v: Obj) => v.name === 'data'), { hostPath: { path: '/var/lib/d7y' } }, 'the peer keeps pieces in a hostPath folder');
          t.deepEqual(pod.initContainers.find((i: Container) => i.name === 'containerd-mirror').args.slice(0, 2), ['init', 'containerd']);
          t.is(config.peer.proxy.listen.ip, '127.0.0.1', 'the mirror stays on the node\'s loopback');
          t.is(Boolean(config.peer.manager), overlay === 'full', 'the peer asks the manager for schedulers only in the full overlay');
        }
      }
    }
  });

  test(`${overlay}: every config file in the ConfigMap passes d7y config validate`, async (t) => {
    const objs = await render(overlay);
    const dir = await tmpDir(t);
    const cm = objs.find((o) => o.kind === 'ConfigMap')!;
    const files = Object.keys(cm.data);
    t.deepEqual(files.sort(), (overlay === 'full' ? ['manager.yaml', 'peer.yaml', 'scheduler.yaml', 'seed-peer.yaml'] : ['peer.yaml', 'scheduler.yaml', 'seed-peer.yaml']));
    for (const name of files) {
      await writeFile(join(dir, name), cm.data[name]);
      const role = name === 'manager.yaml' ? 'manager' : name === 'scheduler.yaml' ? 'scheduler' : 'peer';
      const r = await runCli(['config', 'validate', join(dir, name), '--role', role]);
      t.is(r.code, 0, `${name}: ${r.stderr}`);
    }
  });
}

test('the probe paths of the manifests answer 200 on a scheduler and a peer started from the lightweight configs', async (t) => {
  const objs = await render('lightweight');
  const cm = objs.find((o) => o.kind === 'ConfigMap')!;
  const dir = await tmpDir(t);
  await mkdir(join(dir, 'secrets'));
  await writeFile(join(dir, 'secrets/cluster-secret'), 'a'.repeat(64), { mode: 0o600 });
  await writeFile(join(dir, 'secrets/seed-secret'), 'b'.repeat(64), { mode: 0o600 });
  for (const name of ['scheduler.yaml', 'peer.yaml']) await writeFile(join(dir, name), cm.data[name]);
  const [grpc, schedOps, peerOps] = [await freePort(), await freePort(), await freePort()];
  // What differs from a pod: folders, ports free on this machine, and loopback as the address.
  const common = { D7Y_DATA_DIR: join(dir, 'data'), D7Y_SECURITY__CLUSTER_SECRET_FILE: join(dir, 'secrets/cluster-secret') };
  const scheduler = startCli(t, ['scheduler', '-c', join(dir, 'scheduler.yaml')], {
    env: { ...common, D7Y_DATA_DIR: join(dir, 'sched'), D7Y_SECURITY__SEED_SECRET_FILE: join(dir, 'secrets/seed-secret'), D7Y_SCHEDULER__LISTEN__HOST: '127.0.0.1', D7Y_SCHEDULER__LISTEN__PORT: String(grpc), D7Y_SCHEDULER__METRICS__LISTEN__PORT: String(schedOps), D7Y_SCHEDULER__METRICS__LISTEN__HOST: '127.0.0.1' },
  });
  await waitForOutput(scheduler, /d7y: ready: .*\n/, 60_000);
  const peer = startCli(t, ['peer', '-c', join(dir, 'peer.yaml')], {
    env: {
      ...common, D7Y_PEER__SCHEDULERS: JSON.stringify([`127.0.0.1:${grpc}`]), D7Y_PEER__METRICS__LISTEN__PORT: String(peerOps), D7Y_PEER__METRICS__LISTEN__HOST: '127.0.0.1',
      D7Y_PEER__RPC__PORT: '0', D7Y_PEER__UPLOAD__PORT: '0', D7Y_PEER__PIECE_HTTP__PORT: '0', D7Y_PEER__PROXY__LISTEN__PORT: '0',
    },
  });
  await waitForOutput(peer, /d7y: ready: .*\n/, 60_000);
  const opsPort: Record<string, number> = { 'd7y-scheduler': schedOps, 'd7y-peer': peerOps };
  for (const w of workloads(objs).filter((o) => o.metadata.name in opsPort)) {
    const c = d7yContainers(w)[0]!;
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      const res = await fetch(`http://127.0.0.1:${opsPort[w.metadata.name]}${probe!.httpGet.path}`);
      t.is(res.status, 200, `${w.metadata.name} ${probe!.httpGet.path}: ${await res.text()}`);
    }
  }
});
