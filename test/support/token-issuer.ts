import { createHash, createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';

const run = promisify(execFile);

export interface TokenIssuerOptions {
  /** The `service` (JWT audience) the registry expects. */
  service: string;
  /** The JWT issuer the registry expects. */
  issuer: string;
  /** username → password; requests with these basic credentials get every action they ask for. */
  users: Record<string, string>;
  /** Anonymous requests get `pull` (like public repositories). Default false: anonymous is refused. */
  anonymousPull?: boolean;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
}

export interface TokenIssuer {
  /** `http://127.0.0.1:<port>/token`, the realm for the registry config. */
  readonly realm: string;
  /** A PEM certificate bundle holding the signing key's certificate (`rootcertbundle`). */
  readonly certBundlePath: string;
  /** Token requests served so far (granted or refused). */
  readonly requests: number;
}

/**
 * A small Docker token service (the Bearer realm of a registry's 401 challenge) on 127.0.0.1:
 * checks basic credentials, grants the requested repository actions, and signs ES256 JWTs with a
 * key whose self-signed certificate (made with `openssl`) the registry trusts. Closed in teardown.
 */
export async function startTokenIssuer(t: ExecutionContext, dir: string, opts: TokenIssuerOptions): Promise<TokenIssuer> {
  const keyPath = join(dir, 'token.key');
  const certBundlePath = join(dir, 'token.crt');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath,
    '-out', certBundlePath, '-subj', '/CN=d7y-test-token-issuer', '-days', '2'], { timeout: 20_000 });
  const { readFile } = await import('node:fs/promises');
  const key = createPrivateKey(await readFile(keyPath));
  const kid = libtrustKeyId(createPublicKey(key));
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const auth = req.headers.authorization;
    let user: string | undefined;
    if (auth?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(auth.slice(6), 'base64').toString('utf8').split(':');
      if (u === undefined || opts.users[u] === undefined || opts.users[u] !== rest.join(':')) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"invalid credentials"}');
        return;
      }
      user = u;
    } else if (!opts.anonymousPull) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' }).end('{"details":"credentials required"}');
      return;
    }
    const access = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).map((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',').filter(Boolean);
      return { type, name: rest.join(':'), actions: user ? actions : actions.filter((a) => a === 'pull') };
    });
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = opts.expiresIn ?? 300;
    const claims = { iss: opts.issuer, sub: user ?? '', aud: opts.service, exp: now + expiresIn, nbf: now - 10, iat: now, jti: `${now}-${requests}`, access };
    const token = jwt({ alg: 'ES256', typ: 'JWT', kid }, claims, key);
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  t.teardown(() => new Promise<void>((res) => { server.closeAllConnections(); server.close(() => res()); }));
  const { port } = server.address() as AddressInfo;
  await writeFile(join(dir, 'token.realm'), `http://127.0.0.1:${port}/token`);
  return { realm: `http://127.0.0.1:${port}/token`, certBundlePath, get requests() { return requests; } };
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString('base64url');
}

function jwt(header: object, claims: object, key: KeyObject): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${b64url(signature)}`;
}

/** The libtrust key id distribution uses: base32 of the first 240 bits of sha256(DER SPKI), in 4-char groups. */
function libtrustKeyId(pub: KeyObject): string {
  const der = pub.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of hash) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(':');
}
