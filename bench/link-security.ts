import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { initClusterCa, issueNodeCertificate } from '../core/protocol/tls/cluster-certificates.js';
import { appendJsonLines, formatTable, parseSizeRuns, sha256File, writeRandomFile } from './support/bench-files.js';
import { PeerPair } from './support/peer-pair.js';
import { median } from './support/stats.js';
import { Teardown } from './support/teardown.js';

/** The modes compared, each on a pair of its own (seed peer → fresh peer on loopback). */
const MODES = ['plain', 'tls-mutual', 'encrypted-at-rest', 'tls+encrypted'] as const;
type Mode = typeof MODES[number];

interface Sample { bytesPerSec: number; seedCpuPerGiB: number; peerCpuPerGiB: number }

/**
 * `npm run bench -- link-security`: what TLS on every link (`security.tls.mode: mutual`) and
 * encryption at rest (disk `encryption.keyFile`) cost on the peer → peer path. Four seed → peer
 * pairs on loopback (plain, mutual TLS, encrypted disks, both), the same file; runs interleaved in
 * a rotating order; throughput and CPU-seconds per GiB of the seed and of the receiving peer, as
 * medians and as ratios to plain.
 */
export async function run(argv: string[]): Promise<void> {
  const a = parseSizeRuns(argv, 'link-security');
  const teardown = new Teardown();
  try {
    const workDir = await mkdtemp(join(tmpdir(), 'd7y-bench-sec-'));
    teardown.add('remove work dir', () => rm(workDir, { recursive: true, force: true }));
    const root = join(workDir, 'origin');
    const sha = await writeRandomFile(join(root, 'data.bin'), a.sizeMiB);
    const bytes = (await stat(join(root, 'data.bin'))).size;
    const gib = bytes / 2 ** 30;
    const pki = join(workDir, 'pki');
    await initClusterCa(pki);
    await issueNodeCertificate(pki, { name: 'bench', ips: ['127.0.0.1'] });
    const tls = { mode: 'mutual' as const, ca: join(pki, 'ca.crt'), cert: join(pki, 'bench.crt'), key: join(pki, 'bench.key') };
    const keyFile = join(pki, 'pieces.key');
    await writeFile(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    const disk = { encryption: { keyFile } };
    const lab = { plain: {}, 'tls-mutual': { tls }, 'encrypted-at-rest': { disk }, 'tls+encrypted': { tls, disk } } satisfies Record<Mode, object>;
    const pairs = {} as Record<Mode, PeerPair>;
    for (const [i, mode] of MODES.entries()) {
      const dir = join(workDir, mode);
      await mkdir(dir, { recursive: true });
      pairs[mode] = await PeerPair.start(teardown, dir, root, 'data.bin', 600_000, { originPort: 28280 + i, schedulerPort: 28202 + i, lab: lab[mode] });
    }
    const samples = Object.fromEntries(MODES.map((m) => [m, [] as Sample[]])) as Record<Mode, Sample[]>;
    const once = async (mode: Mode, i: number): Promise<void> => {
      const pair = pairs[mode];
      const peer = await pair.newPeer();
      const out = join(workDir, `${mode}-${i}.bin`);
      const { result: r, seedCpu, peerCpu } = await pair.fromSeed(peer, bytes, () => pair.fetch(peer, out, 600_000));
      if (r.code !== 0) throw new Error(`${mode}: d7y get failed (exit ${r.code}); see ${out}.log and ${peer.logFile}`);
      if (await sha256File(out) !== sha) throw new Error(`${mode}: the file's sha256 differs from the origin's (${out})`);
      samples[mode].push({ bytesPerSec: bytes / r.seconds, seedCpuPerGiB: seedCpu / gib, peerCpuPerGiB: peerCpu / gib });
      await pair.retire(peer);
      await rm(out, { force: true });
    };
    let retried = 0;
    for (let i = 0; i < a.runs; i += 1) {
      for (let k = 0; k < MODES.length; k += 1) {
        const mode = MODES[(i + k) % MODES.length]!;
        // A run whose peer fell back to the origin (a stall on a loaded machine) is run again, at most twice.
        for (let attempt = 1; ; attempt += 1) {
          const failed = await once(mode, i).then(() => undefined, (err: unknown) => err);
          if (!failed) break;
          if (attempt === 3 || !/from the origin instead of the seed/.test(String(failed))) throw failed;
          retried += 1;
        }
      }
    }
    const load = loadavg()[0]!;
    const med = (m: Mode, f: (s: Sample) => number): number => median(samples[m].map(f));
    const mb = (x: number): string => (x / 1e6).toFixed(0);
    const base = (f: (s: Sample) => number) => med('plain', f);
    console.log(formatTable(['mode', 'MB/s (median)', 'runs MB/s', 'vs plain', 'seed CPU-s/GiB', 'peer CPU-s/GiB', 'peer CPU vs plain'], MODES.map((m) => [
      m, mb(med(m, (s) => s.bytesPerSec)), samples[m].map((s) => mb(s.bytesPerSec)).join(' '),
      (med(m, (s) => s.bytesPerSec) / base((s) => s.bytesPerSec)).toFixed(2),
      med(m, (s) => s.seedCpuPerGiB).toFixed(2), med(m, (s) => s.peerCpuPerGiB).toFixed(2),
      (med(m, (s) => s.peerCpuPerGiB) / base((s) => s.peerCpuPerGiB)).toFixed(2),
    ])));
    console.log(`${a.sizeMiB} MiB, ${a.runs} interleaved runs per mode (${retried} run again after falling back to the origin); load average ${load.toFixed(2)}`);
    const file = await appendJsonLines(a.out, 'link-security', [{
      bench: 'link-security', at: new Date().toISOString(), sizeMiB: a.sizeMiB, runs: a.runs, loadavg1: Math.round(load * 100) / 100,
      modes: Object.fromEntries(MODES.map((m) => [m, samples[m].map((s) => ({
        bytesPerSec: Math.round(s.bytesPerSec), seedCpuPerGiB: Math.round(s.seedCpuPerGiB * 100) / 100, peerCpuPerGiB: Math.round(s.peerCpuPerGiB * 100) / 100,
      }))])),
    }]);
    console.log(`results: ${file}`);
  } finally {
    await teardown.run();
  }
}
