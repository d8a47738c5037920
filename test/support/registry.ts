import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import bcrypt from 'bcryptjs';
import { freePort, tmpDir } from './env.js';
import { stopProcess } from './run-cli.js';
import { startTokenIssuer, type TokenIssuer } from './token-issuer.js';

const run = promisify(execFile);

export interface RegistryOptions {
  /** Basic auth (htpasswd, bcrypt) with these users. */
  htpasswd?: Record<string, string>;
  /** Token auth with a token issuer of ours that knows these users. */
  token?: { users: Record<string, string>; anonymousPull?: boolean; expiresIn?: number };
  /** Pull-through mode: a read-only cache of this registry (`http://127.0.0.1:<port>`). */
  pullThrough?: string;
  /** Listen on this port instead of a fresh free one (a stand-in for a mirror at a known address). */
  port?: number;
}

/** One request line of the registry's access log: `GET /v2/x/manifests/v1?ns=... HTTP/1.1` → method and URI. */
export interface RegistryRequest {
  method: string;
  uri: string;
  status: number;
  /** Body bytes sent. */
  bytes: number;
  userAgent: string;
}

export interface Registry {
  /** `127.0.0.1:<port>` */
  readonly host: string;
  readonly pid: number;
  /** The registry's filesystem store (tests may tamper with blobs there). */
  readonly storeDir: string;
  readonly tokenIssuer?: TokenIssuer;
  /** Credentials for skopeo pushes (`user:password`) when the registry has auth. */
  readonly pushCreds?: string;
  /** Every request the registry answered so far, from its access log, oldest first. */
  requests(): RegistryRequest[];
}

/**
 * Starts Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a filesystem store in a
 * temp dir, optionally behind htpasswd basic auth or token auth, or as a pull-through cache of
 * another registry; records its access log; waits (bounded) until `/v2/` answers; stops it by PID
 * in teardown.
 */
export async function startRegistry(t: ExecutionContext, opts: RegistryOptions = {}): Promise<Registry> {
  const dir = await tmpDir(t, 'd7y-registry-');
  const port = opts.port ?? await freePort();
  let auth = '';
  let tokenIssuer: TokenIssuer | undefined;
  let pushCreds: string | undefined;
  if (opts.htpasswd) {
    const lines = Object.entries(opts.htpasswd).map(([u, p]) => `${u}:${bcrypt.hashSync(p, 5)}`);
    await writeFile(join(dir, 'htpasswd'), `${lines.join('\n')}\n`);
    auth = `auth:\n  htpasswd:\n    realm: d7y-test\n    path: ${join(dir, 'htpasswd')}\n`;
    const [u, p] = Object.entries(opts.htpasswd)[0]!;
    pushCreds = `${u}:${p}`;
  } else if (opts.token) {
    tokenIssuer = await startTokenIssuer(t, dir, { service: 'd7y-test-registry', issuer: 'd7y-test-issuer', ...opts.token });
    auth = `auth:\n  token:\n    realm: ${tokenIssuer.realm}\n    service: d7y-test-registry\n    issuer: d7y-test-issuer\n    rootcertbundle: ${tokenIssuer.certBundlePath}\n`;
    const [u, p] = Object.entries(opts.token.users)[0]!;
    pushCreds = `${u}:${p}`;
  }
  const config = `version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: ${join(dir, 'store')}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
  secret: d7y-test-secret
${auth}${opts.pullThrough ? `proxy:\n  remoteurl: ${opts.pullThrough}\n` : ''}`;
  await writeFile(join(dir, 'config.yml'), config);
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const requests: RegistryRequest[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const m = /"([A-Z]+) (\S+) HTTP\/[\d.]+" (\d+) (\d+) "[^"]*" "([^"]*)"/.exec(line);
      if (m) requests.push({ method: m[1]!, uri: m[2]!, status: Number(m[3]), bytes: Number(m[4]), userAgent: m[5]! });
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-4000); });
  t.teardown(() => stopProcess(child));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${stderr}`);
    const status = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0);
    if (status === 200 || status === 401) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on 127.0.0.1:${port} within 15 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: `127.0.0.1:${port}`, pid: child.pid!, storeDir: join(dir, 'store'), tokenIssuer, pushCreds, requests: () => [...requests] };
}

/** `skopeo copy` from `src` to `docker://<dest>` on a plain-http registry (bounded to 60 s). */
export async function pushImage(src: string, registry: Registry, dest: string, opts: { all?: boolean; format?: 'oci' | 'v2s2' } = {}): Promise<void> {
  const args = ['copy', '--quiet', '--dest-tls-verify=false'];
  if (registry.pushCreds) args.push('--dest-creds', registry.pushCreds);
  if (opts.all) args.push('--all');
  if (opts.format) args.push('--format', opts.format);
  args.push(src, `docker://${registry.host}/${dest}`);
  await run('skopeo', args, { timeout: 60_000 });
}

/** `skopeo copy` out of an OCI layout dir into another OCI layout: proves skopeo accepts it. */
export async function skopeoCopyLayout(src: string, dest: string): Promise<{ stdout: string; stderr: string }> {
  return run('skopeo', ['copy', src, dest], { timeout: 60_000 });
}
