import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { createSecureContext, type ConnectionOptions, type SecureContext, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { experimental, ServerCredentials, credentials, type ChannelCredentials } from '@grpc/grpc-js';
import type { TlsConfig } from '../../config/security-config.js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { serverSideRefusal } from './tls-failures.js';

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** The PEM files of a node's TLS setting, as configured. */
export interface TlsFiles {
  ca: string;
  cert?: string;
  key?: string;
}

interface Material {
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
  digest: string;
  /** CN of the node's certificate. */
  identity?: string;
  notAfter?: Date;
}

/** How often the files are read again when no change event came (some editors and mounts give none). */
const POLL_MS = 10_000;

let current: NodeTls | undefined;

/** The TLS setting loaded last in this process (for error messages that name its files), if any. */
export function activeNodeTls(): NodeTls | undefined {
  return current;
}

/**
 * A node's TLS (`security.tls`): the CA, certificate and key read and checked at load, then
 * watched (fs.watch on their folders plus a check every 10 s, compared by content) and swapped
 * without a restart: TLS servers attached with `attach` get the new context for new connections,
 * gRPC servers and channels made from `grpcServerCredentials`/`grpcChannelCredentials` likewise,
 * and `clientOptions()` always returns the current context. A change to files that do not form a
 * valid pair is logged and the previous material kept. Close it with `close()`.
 */
export class NodeTls implements experimental.CertificateProvider {
  private material: Material;
  private context: SecureContext;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly servers = new Set<TlsServer>();
  private readonly changeListeners = new Set<() => void>();
  private watchers: FSWatcher[] = [];
  private poll?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private reloads = 0;

  private constructor(readonly mode: 'server' | 'mutual', readonly files: TlsFiles, material: Material, private readonly logger: Logger) {
    this.material = material;
    this.context = this.makeContext(material);
  }

  /**
   * The node's TLS, or undefined for mode `none`. `serves`: the node runs listeners, so it needs
   * a certificate even in mode `server`. Unreadable, mismatched, expired or foreign files are a
   * D7yError naming the file and the fix.
   */
  static async load(config: TlsConfig, o: { logger: Logger; serves: boolean; watch?: boolean }): Promise<NodeTls | undefined> {
    if (config.mode === 'none') return undefined;
    const files: TlsFiles = { ca: config.ca!, cert: config.cert, key: config.key };
    if (o.serves && !files.cert) {
      throw new D7yError('D7Y_CONFIG_INVALID', `security.tls.mode is ${config.mode} but security.tls.cert is not set: this node's servers have no certificate to present`, {
        fix: 'issue one with d7y cert issue --dir <ca dir> --name <host> --ip <address> and set security.tls.cert and key to its files',
      });
    }
    const tls = new NodeTls(config.mode, files, await readMaterial(files), o.logger);
    if (o.watch !== false) tls.watch();
    current = tls;
    return tls;
  }

  /** The CN of this node's certificate (its TLS identity), when it has one. */
  get identity(): string | undefined {
    return this.material.identity;
  }

  /** Times the files were reloaded since start. */
  get reloadCount(): number {
    return this.reloads;
  }

  /**
   * Options for `tls.createServer`/`https.createServer`: the current material; in `mutual` the
   * client's certificate is asked for and checked by `attach` (which must be called), so that each
   * refusal is logged with its reason.
   */
  serverOptions(): TlsOptions {
    const mutual = this.mode === 'mutual';
    return { ...this.contextOptions(this.material), requestCert: mutual, rejectUnauthorized: false };
  }

  /**
   * Keeps a TLS server on the current material (new connections get reloaded certificates) and
   * logs each refused handshake (`what`: the server's name in the log) with the remote address,
   * why, and the fix for the client's owner. Detached when the server closes.
   */
  attach(server: TlsServer, what: string): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
    const refuse = (err: unknown, remote: string | undefined): void => {
      const refusal = serverSideRefusal(err, this);
      this.logger.warn({ server: what, remote, reason: refusal.reason, fix: refusal.fix }, 'TLS handshake refused');
    };
    server.on('tlsClientError', (err, socket) => refuse(err, socket.remoteAddress));
    if (this.mode !== 'mutual') return;
    server.prependListener('secureConnection', (socket: TLSSocket) => {
      if (socket.authorized) return;
      const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
      refuse(new Error(presented ? String(socket.authorizationError) : 'PEER_DID_NOT_RETURN_A_CERTIFICATE'), socket.remoteAddress);
      socket.destroy();
    });
  }

  /** Options for `tls.connect` (and undici's `connect`): the current context; the server is checked against the CA and its name. */
  clientOptions(): ConnectionOptions {
    return { secureContext: this.context, rejectUnauthorized: true };
  }

  /** The current material as undici `connect` options. */
  undiciConnect(): { ca: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: true } {
    const m = this.material;
    return { ca: m.ca, cert: this.mode === 'mutual' || m.cert ? m.cert : undefined, key: m.key, rejectUnauthorized: true };
  }

  /** gRPC server credentials following this material (a client certificate is required in `mutual`). */
  grpcServerCredentials(): ServerCredentials {
    const mutual = this.mode === 'mutual';
    // grpc-js hands its first argument to the identity and the second to the CA.
    return experimental.createCertificateProviderServerCredentials(this, mutual ? this : null, mutual);
  }

  /** gRPC channel credentials following this material (presenting this node's certificate when it has one). */
  grpcChannelCredentials(): ChannelCredentials {
    quietIpServerNameWarning();
    return experimental.createCertificateProviderChannelCredentials(this, this.material.cert ? this : null);
  }

  /** Calls `listener` after each reload. */
  onChange(listener: () => void): void {
    this.changeListeners.add(listener);
  }

  /** Reads the files again now; resolves to true when they changed and were taken. */
  async reload(): Promise<boolean> {
    let next: Material;
    try {
      next = await readMaterial(this.files);
    } catch (err) {
      this.logger.error({ err: err instanceof D7yError ? err.describe() : String(err) }, 'TLS files changed but cannot be used; the previous certificate stays in use');
      return false;
    }
    if (next.digest === this.material.digest) return false;
    this.material = next;
    this.context = this.makeContext(next);
    this.reloads += 1;
    for (const server of this.servers) server.setSecureContext(this.contextOptions(next));
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    if (next.cert && next.key) for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    for (const l of this.changeListeners) l();
    this.logger.info({ cert: this.files.cert, identity: next.identity, notAfter: next.notAfter?.toISOString() }, 'TLS certificates reloaded');
    return true;
  }

  /** Stops watching the files. */
  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearInterval(this.poll);
    clearTimeout(this.debounce);
    if (current === this) current = undefined;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    // grpc-js registers its own watcher only after this returns: the first update comes next tick.
    process.nextTick(() => { if (this.caListeners.has(listener)) listener({ caCertificate: this.material.ca }); });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(() => {
      const m = this.material;
      if (this.identityListeners.has(listener)) listener(m.cert && m.key ? { certificate: m.cert, privateKey: m.key } : null);
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private contextOptions(m: Material): { ca: Buffer; cert?: Buffer; key?: Buffer } {
    return { ca: m.ca, ...(m.cert && m.key && { cert: m.cert, key: m.key }) };
  }

  private makeContext(m: Material): SecureContext {
    return createSecureContext(this.contextOptions(m));
  }

  private watch(): void {
    const paths = [this.files.ca, this.files.cert, this.files.key].filter((p): p is string => Boolean(p));
    const names = new Set(paths.map((p) => basename(p)));
    for (const dir of new Set(paths.map((p) => dirname(p)))) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name && !names.has(name.toString())) return;
          clearTimeout(this.debounce);
          this.debounce = setTimeout(() => void this.reload(), 100);
          this.debounce.unref();
        });
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // The periodic check below still sees changes.
      }
    }
    this.poll = setInterval(() => void this.reload(), POLL_MS);
    this.poll.unref();
  }
}

async function readPem(file: string, key: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `cannot read ${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      cause: err, fix: `point ${key} at a PEM file readable by the user running d7y (d7y cert init / d7y cert issue make them)`,
    });
  }
}

/** Reads and checks the files: PEM, key of the certificate, certificate signed by the CA and valid now. */
async function readMaterial(files: TlsFiles): Promise<Material> {
  const ca = await readPem(files.ca, 'security.tls.ca');
  const cert = files.cert ? await readPem(files.cert, 'security.tls.cert') : undefined;
  const key = files.key ? await readPem(files.key, 'security.tls.key') : undefined;
  let caCert: X509Certificate;
  try {
    caCert = new X509Certificate(ca);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `security.tls.ca ${files.ca} is not a PEM certificate (${(err as Error).message})`, {
      cause: err, fix: 'point security.tls.ca at the cluster CA certificate (ca.crt of d7y cert init)',
    });
  }
  const digest = createHash('sha256').update(ca).update('\0').update(cert ?? '').update('\0').update(key ?? '').digest('hex');
  if (!cert || !key) return { ca, digest };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `security.tls.cert ${files.cert} is not a PEM certificate (${(err as Error).message})`, {
      cause: err, fix: 'issue one with d7y cert issue and point security.tls.cert at its .crt file',
    });
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new D7yError('D7Y_CONFIG_INVALID', `security.tls.key ${files.key} is not an unencrypted PEM private key (${(err as Error).message})`, {
      cause: err, fix: 'point security.tls.key at the .key file written with the certificate by d7y cert issue',
    });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the key ${files.key} does not belong to the certificate ${files.cert}`, {
      fix: 'set security.tls.cert and key to the two files written together by d7y cert issue',
    });
  }
  const now = Date.now();
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the certificate ${files.cert} expired on ${notAfter.toISOString()}`, {
      fix: 'issue a new one (d7y cert issue --dir <ca dir> --name <host> --force) over the same files: it is picked up without a restart',
    });
  }
  if (!leaf.checkIssued(caCert) || !leaf.verify(caCert.publicKey)) {
    throw new D7yError('D7Y_CONFIG_INVALID', `the certificate ${files.cert} was not signed by the CA ${files.ca}`, {
      fix: "issue this node's certificate from the cluster CA (d7y cert issue --dir <the dir of that ca.crt>), or point security.tls.ca at the CA that signed it",
    });
  }
  const identity = /(?:^|\n)CN=([^\n]+)/.exec(leaf.subject)?.[1];
  return { ca, cert, key, digest, identity, notAfter };
}

/** Channel credentials of a gRPC client: TLS following `tls`, or plain TCP without it. */
export function grpcChannelCredentialsOf(tls: NodeTls | undefined): ChannelCredentials {
  return tls ? tls.grpcChannelCredentials() : credentials.createInsecure();
}

/** Server credentials of a gRPC server: TLS following `tls`, or plain TCP without it. */
export function grpcServerCredentialsOf(tls: NodeTls | undefined): ServerCredentials {
  return tls ? tls.grpcServerCredentials() : ServerCredentials.createInsecure();
}

/**
 * TLS client options for a command that runs no node (e.g. `d7y preheat` to an https manager):
 * the files named by `D7Y_SECURITY__TLS__CA`, `…__CERT` and `…__KEY`, the variables that set
 * `security.tls` of a node. Undefined when no CA is named (Node's trusted CAs then apply).
 */
export function environmentTlsConnect(env: NodeJS.ProcessEnv = process.env): { ca: Buffer; cert?: Buffer; key?: Buffer } | undefined {
  const ca = env.D7Y_SECURITY__TLS__CA;
  if (!ca) return undefined;
  const read = (file: string, name: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new D7yError('D7Y_CONFIG_INVALID', `cannot read ${name} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
        cause: err, fix: `point ${name} at a PEM file readable by this user`,
      });
    }
  };
  const cert = env.D7Y_SECURITY__TLS__CERT;
  const key = env.D7Y_SECURITY__TLS__KEY;
  return {
    ca: read(ca, 'D7Y_SECURITY__TLS__CA'),
    ...(cert && key && { cert: read(cert, 'D7Y_SECURITY__TLS__CERT'), key: read(key, 'D7Y_SECURITY__TLS__KEY') }),
  };
}

let quieted = false;

/**
 * grpc-js sends an IP target as the TLS server name, which Node flags once per process with
 * DEP0123; the certificate is still checked against the IP. That one warning is dropped.
 */
function quietIpServerNameWarning(): void {
  if (quieted) return;
  quieted = true;
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const code = typeof rest[0] === 'object' && rest[0] ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
