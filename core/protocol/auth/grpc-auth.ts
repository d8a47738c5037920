import { InterceptingCall, Metadata } from '@grpc/grpc-js';
import type { Interceptor, UntypedServiceImplementation } from '@grpc/grpc-js';
import { D7yError } from '../../errors/d7y-error.js';
import type { Logger } from '../../logging/logger.js';
import { CLUSTER_AUTH_HEADER, CONTROL_AUTH_HEADER, HOST_IDENTITY_HEADER, SEED_AUTH_HEADER } from './cluster-auth.js';
import type { AuthFailure, AuthLevel, ClusterAuth } from './cluster-auth.js';
import { RefusalLog } from './refusal-log.js';
import { toServiceError } from '../rpc/grpc-errors.js';

/** What the client of a gRPC channel presents on each call. */
export interface GrpcClientAuth {
  auth: ClusterAuth;
  /** The calling host's identity (peers), sent so a scheduler can bind the host record to it. */
  hostIdentity?: string;
}

/**
 * A client interceptor adding, to every call, a membership proof bound to the method, a seed proof
 * when the role holds the seed secret, and the host identity when there is one.
 */
export function clusterAuthInterceptor(o: GrpcClientAuth): Interceptor {
  return (options, nextCall) => new InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      const method = options.method_definition.path;
      metadata.set(CLUSTER_AUTH_HEADER, o.auth.memberProof(method));
      const seed = o.auth.seedProof(method);
      if (seed) metadata.set(SEED_AUTH_HEADER, seed);
      if (o.hostIdentity) metadata.set(HOST_IDENTITY_HEADER, o.hostIdentity);
      next(metadata, listener);
    },
  });
}

/**
 * Adds to `md` the control proof of a call to `method` on the peer whose control key is
 * `controlKey` (a scheduler's DownloadTask, StatTask, DeleteTask and persistent-cache calls to a
 * normal peer); nothing without a key or a credential.
 */
export function withControlProof(md: Metadata, auth: GrpcClientAuth | undefined, controlKey: Buffer | undefined, method: string): Metadata {
  if (controlKey && auth) md.set(CONTROL_AUTH_HEADER, auth.auth.controlProof(controlKey, method));
  return md;
}

/** The gRPC client options carrying the credential (none without one). */
export function authChannelOptions(o: GrpcClientAuth | undefined): { interceptors?: Interceptor[] } {
  return o ? { interceptors: [clusterAuthInterceptor(o)] } : {};
}

/**
 * What a call needs: membership, the seed credential, or `control` — the seed credential or a
 * control proof made with this host's own control key (a scheduler it announced itself to).
 */
export type AuthNeed = AuthLevel | 'control';

/** Who called, as far as the credential check could tell. */
export interface GrpcCaller {
  /** `open` when this server runs without a cluster secret. */
  level: AuthLevel | 'open';
  /** The caller's host identity, if any: its TLS certificate's CN in mutual TLS, else what it sent. */
  hostIdentity?: string;
  /** The identity the caller sent (with mutual TLS `hostIdentity` is its certificate's): its control key is made from it. */
  controlIdentity?: string;
}

interface CallLike {
  metadata: Metadata;
  getPath(): string;
  getPeer(): string;
  getAuthContext?(): { sslPeerCertificate?: { subject?: Record<string, string | string[] | undefined> } } | null;
}

/**
 * The caller's host identity: with mutual TLS, its certificate's CN (`x509:<CN>`, which no other
 * certificate of the cluster CA can claim); else the identity it sent in the metadata.
 */
function callerIdentity(call: CallLike): string | undefined {
  const cn = call.getAuthContext?.()?.sslPeerCertificate?.subject?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (name) return `x509:${name}`;
  return sentIdentity(call);
}

/** The host identity the caller sent in the metadata (the secret its control key is made from). */
function sentIdentity(call: CallLike): string | undefined {
  const identity = call.metadata.get(HOST_IDENTITY_HEADER)[0];
  return typeof identity === 'string' && identity ? identity : undefined;
}

const FIX_MEMBER = 'set security.clusterSecret (or security.clusterSecretFile) on the calling node to the secret every node of this cluster shares';

/**
 * Checks the credential of calls to one gRPC server: `check` throws a D7yError the caller gets back
 * (D7Y_UNAUTHENTICATED: no or a wrong membership proof; D7Y_PERMISSION_DENIED: a member without the
 * seed credential a call needs) and logs who was refused. Without a ClusterAuth, every call passes.
 */
export class GrpcAuthGuard {
  private readonly refusals: RefusalLog;

  /** `controlKey`: this host's own control key, which `control` calls are proven with. */
  constructor(private readonly auth: ClusterAuth | undefined, logger: Logger, private readonly server: string, private readonly controlKey?: Buffer) {
    this.refusals = new RefusalLog(logger, server);
  }

  /** True when calls are checked. */
  get enabled(): boolean {
    return this.auth !== undefined;
  }

  check(call: CallLike, need: AuthNeed): GrpcCaller {
    const hostIdentity = callerIdentity(call);
    const controlIdentity = sentIdentity(call);
    if (!this.auth) return { level: 'open', hostIdentity, controlIdentity };
    const method = call.getPath();
    const member = this.auth.checkMember(text(call.metadata, CLUSTER_AUTH_HEADER), method);
    if (member) throw this.refuse(call, method, member);
    const seedToken = text(call.metadata, SEED_AUTH_HEADER);
    const seed = seedToken !== undefined && this.auth.holdsSeed && !this.auth.checkSeed(seedToken, method);
    if (need === 'control' && !seed) {
      const token = text(call.metadata, CONTROL_AUTH_HEADER);
      const why = this.controlKey ? this.auth.checkControl(this.controlKey, token, method) : 'wrong';
      if (why) {
        this.refusals.refused(call.getPeer(), method, why === 'missing' ? 'no control proof' : `${why} control proof`);
        throw new D7yError('D7Y_PERMISSION_DENIED', `${this.server} refused ${shortMethod(method)}: only a scheduler this peer announced itself to may make it download, stat or delete tasks (${why === 'missing' ? 'no control proof was presented' : `the control proof is ${why}`})`, {
          fix: 'ask through the scheduler (a preheat or task job in the manager), or run d7y get / d7y task on the peer\'s own host',
        });
      }
      return { level: 'member', hostIdentity, controlIdentity };
    }
    if (need === 'seed' && !seed) {
      this.refusals.refused(call.getPeer(), method, seedToken ? 'wrong seed credential' : 'no seed credential');
      throw new D7yError('D7Y_PERMISSION_DENIED', `${this.server} refused ${shortMethod(method)}: it needs the seed credential, which only schedulers and seed peers hold${seedToken ? ' (the one sent is wrong)' : ''}`, {
        fix: 'only a scheduler or seed peer of this cluster may make this call; give it security.seedSecret (the same on every scheduler and seed peer)',
      });
    }
    return { level: seed ? 'seed' : 'member', hostIdentity, controlIdentity };
  }

  private refuse(call: CallLike, method: string, why: AuthFailure): D7yError {
    this.refusals.refused(call.getPeer(), method, why === 'missing' ? 'no cluster credential' : `${why} cluster credential`);
    return unauthenticated(this.server, shortMethod(method), why);
  }
}

/** The D7Y_UNAUTHENTICATED error of a request refused by `server` for its cluster credential. */
export function unauthenticated(server: string, request: string, why: AuthFailure): D7yError {
  const message = why === 'missing' ? 'no cluster credential was presented'
    : why === 'stale' ? 'the cluster credential is dated more than 5 minutes away from its clock'
      : why === 'malformed' ? 'the cluster credential is malformed'
        : why === 'replayed' ? 'the cluster credential was already used once (a replayed request)'
        : 'the cluster credential is wrong (another cluster\'s secret?)';
  return new D7yError('D7Y_UNAUTHENTICATED', `${server} refused ${request}: ${message}`, {
    fix: why === 'stale' ? 'synchronise the clocks of the two hosts (NTP)'
      : why === 'replayed' ? 'send each request with a fresh proof (d7y\'s clients do); a replay is someone copying requests off the network: run the cluster over TLS'
      : why === 'missing' ? FIX_MEMBER : 'use the same security.clusterSecret as the schedulers and peers of this cluster',
  });
}

function text(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}

function shortMethod(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1) || path;
}

/**
 * Every method of a gRPC service implementation, checked by `guard` at `need` before it runs: a
 * unary call refused gets the error as its status, a stream is ended with it.
 */
export function guardService<T extends UntypedServiceImplementation>(impl: T, guard: GrpcAuthGuard, need: AuthNeed): T {
  if (!guard.enabled) return impl;
  const wrapped: UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(impl)) {
    wrapped[name] = ((call: CallLike & { emit(event: 'error', err: unknown): boolean }, cb?: (err: unknown) => void) => {
      try {
        guard.check(call, need);
      } catch (err) {
        if (cb) cb(toServiceError(err));
        else call.emit('error', toServiceError(err));
        return;
      }
      (handler as (...args: unknown[]) => void)(call, cb);
    }) as UntypedServiceImplementation[string];
  }
  return wrapped as T;
}
