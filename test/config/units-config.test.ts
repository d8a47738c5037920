import test from 'ava';
import { parse as parseYaml, stringify } from 'yaml';
import { nodeConfigOf } from '../../core/config/config-loader.js';
import { NodeConfigSchema } from '../../core/config/node-config.js';
import { configInUnits } from '../../core/config/unit-schemas.js';
import { D7yError } from '../../core/errors/d7y-error.js';
import { httpSourceConfigSchema } from '../../sources/http/http-source-config.js';
import { ociPluginConfigSchema } from '../../sources/oci/oci-plugin-config.js';
import { s3ConfigSchema } from '../../sources/s3/index.js';
import { DiskStorageConfigSchema } from '../../storage/disk/disk-storage-config.js';
import { MemoryStorageConfigSchema } from '../../storage/memory/memory-storage-config.js';

const env = { D7Y_DATA_DIR: '/tmp/d7y-units-test' };

const oldStyle = `
dataDir: /var/lib/d7y
manager:
  keepaliveTtl: 30000
  auth: { sessionTtl: 1209600000 }
  jobs: { defaultTimeout: 3600000, sweepInterval: 5000 }
scheduler:
  retryInterval: 500
  gc: { interval: 10000, peerTtl: 86400000 }
  manager: { url: http://127.0.0.1:8080, token: t, keepaliveIntervalMs: 5000, jobPollIntervalMs: 1000 }
peer:
  upload:
    rateLimit: 104857600
    maxBandwidth: 1250000000
    superSeed: { offerTtlMs: 15000 }
  download:
    pieceTimeoutMs: 30000
    rateLimit: 0
    directMaxBytes: 4194304
    pieceLengthMin: 1048576
    stallMs: 5000
  announceIntervalMs: 20000
  manager: { url: http://127.0.0.1:8080, schedulerRefreshMs: 60000 }
`;

const newStyle = `
dataDir: /var/lib/d7y
manager:
  keepaliveTtl: 30s
  auth: { sessionTtl: 14d }
  jobs: { defaultTimeout: 1h, sweepInterval: 5s }
scheduler:
  retryInterval: 500ms
  gc: { interval: 10s, peerTtl: 24h }
  manager: { url: http://127.0.0.1:8080, token: t, keepaliveInterval: 5s, jobPollInterval: 1s }
peer:
  upload:
    rateLimit: 100MiB/s
    maxBandwidth: 10Gbit/s
    superSeed: { offerTtl: 15s }
  download:
    pieceTimeout: 30s
    rateLimit: unlimited
    directMaxSize: 4MiB
    pieceLengthMin: 1MiB
    stallTimeout: 5s
  announceInterval: 20s
  manager: { url: http://127.0.0.1:8080, schedulerRefreshInterval: 1m }
`;

const load = (yaml: string, e: NodeJS.ProcessEnv = env) => nodeConfigOf(parseYaml(yaml), 'node.yaml', e);

test('an old-style config (ms and byte numbers) and a new-style one (units) give the same effective config', (t) => {
  const old = load(oldStyle);
  const now = load(newStyle);
  t.deepEqual(now, old);
  t.is(now.peer.download.pieceTimeoutMs, 30_000);
  t.is(now.peer.upload.rateLimit, 100 * 1024 * 1024);
  t.is(now.peer.upload.maxBandwidth, 1_250_000_000);
  t.is(now.peer.manager?.schedulerRefreshMs, 60_000);
  t.is(now.scheduler.manager?.keepaliveIntervalMs, 5_000);
  t.is(now.manager.auth.sessionTtl, 14 * 86_400_000);
  t.false('pieceTimeout' in now.peer.download, 'the code reads the legacy keys only');
});

test('a setting given under both its keys is refused, naming both', (t) => {
  const err = t.throws(() => load('peer: { download: { pieceTimeout: 30s, pieceTimeoutMs: 30000 } }'), { instanceOf: D7yError });
  t.is(err?.code, 'D7Y_CONFIG_INVALID');
  t.regex(err?.message ?? '', /node\.yaml at peer\.download\.pieceTimeout: pieceTimeout and pieceTimeoutMs are the same setting: keep one/);
});

test('a bare number where a unit is needed is refused with the units and an example', (t) => {
  const err = t.throws(() => load('peer: { download: { pieceTimeout: 30000, rateLimit: "100" } }'), { instanceOf: D7yError });
  t.regex(err?.message ?? '', /peer\.download\.pieceTimeout: "30000" is not a duration: it has no unit, so it could be seconds or milliseconds; write a duration with a unit \(ms, s, m \(minutes\), h, d\), e\.g\. "30s"/);
  t.regex(err?.message ?? '', /peer\.download\.rateLimit: "100" is not a rate: it has no unit, so it could be bytes or bits per second/);
  const small = t.throws(() => load('peer: { download: { pieceTimeout: 50ms } }'), { instanceOf: D7yError });
  t.regex(small?.message ?? '', /peer\.download\.pieceTimeout: must be at least 100ms/);
});

test('D7Y_* variables take units too, and one for either key of a setting overrides the file\'s other key', (t) => {
  const a = load(oldStyle, { ...env, D7Y_PEER__DOWNLOAD__PIECE_TIMEOUT: '10s', D7Y_PEER__UPLOAD__RATE_LIMIT: '1Gbit/s' });
  t.is(a.peer.download.pieceTimeoutMs, 10_000);
  t.is(a.peer.upload.rateLimit, 125_000_000);
  const b = load(newStyle, { ...env, D7Y_PEER__DOWNLOAD__PIECE_TIMEOUT_MS: '12000' });
  t.is(b.peer.download.pieceTimeoutMs, 12_000);
  const err = t.throws(() => load(newStyle, { ...env, D7Y_PEER__ANNOUNCE_INTERVAL: '20' }), { instanceOf: D7yError });
  t.regex(err?.message ?? '', /peer\.announceInterval: "20" is not a duration: it has no unit/);
});

test('the effective config printed in units loads back to the same config', (t) => {
  const config = load(oldStyle);
  const printed = configInUnits(NodeConfigSchema, config);
  const at = (path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], printed);
  t.is(at('peer.download.pieceTimeout'), '30s');
  t.is(at('peer.download.rateLimit'), 'unlimited');
  t.is(at('peer.download.directMaxSize'), '4MiB');
  t.is(at('peer.upload.maxBandwidth'), '10Gbit/s');
  t.is(at('peer.announceInterval'), '20s');
  t.is(at('scheduler.retryInterval'), '500ms');
  t.is(at('peer.download.pieceTimeoutMs'), undefined);
  t.deepEqual(load(stringify(printed)), config);
});

test('plugin configs: old numbers and new unit strings give the same config', (t) => {
  t.deepEqual(httpSourceConfigSchema.parse({ connectTimeout: '5s', deadline: '2m', retryDelay: '200ms' }),
    httpSourceConfigSchema.parse({ connectTimeout: 5000, deadline: 120_000, retryDelay: 200 }));
  t.deepEqual(ociPluginConfigSchema.parse({ timeout: '30s', maxManifestSize: '4MiB' }), ociPluginConfigSchema.parse({ timeoutMs: 30_000, maxManifestBytes: 4 * 1024 * 1024 }));
  t.deepEqual(s3ConfigSchema.parse({ connectTimeout: '10s', partSize: '64MiB' }), s3ConfigSchema.parse({ connectTimeoutMs: 10_000, partSize: 64 * 1024 * 1024 }));
  t.deepEqual(DiskStorageConfigSchema.parse({ quota: '20GiB', gc: { interval: '1m', taskTtl: '7d' } }),
    DiskStorageConfigSchema.parse({ quota: 20 * 1024 ** 3, gc: { interval: 60_000, taskTtl: 7 * 86_400_000 } }));
  t.is(MemoryStorageConfigSchema.parse({ capacity: '1GB' }).capacity, 1e9);
  t.false(ociPluginConfigSchema.safeParse({ timeout: '30s', timeoutMs: 30_000 }).success);
  t.false(s3ConfigSchema.safeParse({ partSize: '1MiB' }).success, 'the bounds still hold');
});
