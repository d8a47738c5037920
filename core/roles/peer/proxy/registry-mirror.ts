import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ProxyConfig } from '../../../config/proxy-config.js';
import { D7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import type { ProxyOutcome } from '../peer-metrics.js';
import type { DownloadService } from '../download/download-service.js';
import { forwardableHeaders, type DirectForward } from './direct-forward.js';
import { serveP2p } from './p2p-responder.js';
import { sendError } from './proxy-answers.js';
import { one, pieceLengthHeader } from './proxy-routing.js';

/** `/v2/<name>/blobs/sha256:<hex>`: the one request of a pull that goes through the swarm. */
const BLOB = /^\/v2\/((?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)\/blobs\/(sha256:[a-f0-9]{64})$/;

/** Registries whose API lives at another host than their name (containerd's rule for Docker Hub). */
const API_HOSTS: Record<string, string> = { 'docker.io': 'registry-1.docker.io', 'index.docker.io': 'registry-1.docker.io' };

export interface Upstream {
  /** `http` or `https`. */
  scheme: string;
  /** `host[:port]` the registry API is reached at. */
  host: string;
}

/**
 * The OCI distribution API on the proxy's port (`/v2/…` in origin form). The upstream registry is
 * containerd's `?ns=<registry>`, else the `X-Dragonfly-Registry` header, else the configured
 * default, so one catch-all mirror config serves every registry. Blob GETs go through the swarm
 * as one task per digest (the same layer from two registries is one task), checked against the
 * digest; everything else (manifests, tags, HEADs, the `/v2/` ping, pushes) goes to the upstream
 * as it is. The client's `Authorization` goes with both, and the upstream's `WWW-Authenticate`
 * comes back, so anonymous and token-auth registries both work.
 */
export class RegistryMirror {
  private readonly insecure: Set<string>;
  private readonly fallback: Upstream;

  constructor(
    private readonly config: ProxyConfig['registryMirror'],
    private readonly downloads: DownloadService,
    private readonly direct: DirectForward,
    private readonly logger: Logger,
  ) {
    this.insecure = new Set(config.insecureRegistries);
    this.fallback = this.parseRegistry(config.url, 'proxy.registryMirror.url');
  }

  /**
   * Answers one `/v2/…` request; sets `answer.outcome` before it answers: `p2p` (through the swarm),
   * `direct` (forwarded); it stays as it was for a request refused as malformed.
   */
  async handle(req: IncomingMessage, res: ServerResponse, answer: { outcome: ProxyOutcome }): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mirror');
    let upstream: Upstream;
    try {
      upstream = this.upstreamOf(url, req);
    } catch (err) {
      const e = err as D7yError;
      sendError(res, 400, `${e.message} (${e.fix ?? ''})`, 'proxy');
      return;
    }
    url.searchParams.delete('ns');
    const query = url.searchParams.toString();
    const target = `${upstream.scheme}://${upstream.host}${url.pathname}${query ? `?${query}` : ''}`;
    const blob = req.method === 'GET' ? BLOB.exec(url.pathname) : null;
    if (blob) {
      const [, name, digest] = blob;
      const headers: Record<string, string> = {};
      const authorization = req.headers.authorization;
      if (authorization) headers.authorization = authorization;
      let pieceLength: number | undefined;
      try {
        pieceLength = pieceLengthHeader(one(req.headers['x-dragonfly-piece-length']));
      } catch (err) {
        const e = err as D7yError;
        sendError(res, 400, `${e.message} (${e.fix ?? ''})`, 'proxy');
        return;
      }
      const ociUrl = `oci://${upstream.host}/${name}/blobs/${digest}${upstream.scheme === 'http' ? '?insecure=true' : ''}`;
      answer.outcome = 'p2p';
      const served = await serveP2p(this.downloads, this.logger, req, res, {
        url: ociUrl, headers, pieceLength,
        tag: one(req.headers['x-dragonfly-tag']), application: one(req.headers['x-dragonfly-application']),
      }, { 'docker-content-digest': digest!, 'content-type': 'application/octet-stream' });
      if (!served.direct) return;
    }
    answer.outcome = 'direct';
    await this.direct.forward(req, res, target, forwardableHeaders(req.headers));
  }

  /** `?ns=` (containerd), else `X-Dragonfly-Registry`, else the configured registry. */
  upstreamOf(url: URL, req: IncomingMessage): Upstream {
    const ns = url.searchParams.get('ns');
    if (ns) return this.parseRegistry(ns, 'the ns query parameter');
    const header = one(req.headers['x-dragonfly-registry']);
    if (header) return this.parseRegistry(header, 'the X-Dragonfly-Registry header');
    return this.fallback;
  }

  private parseRegistry(value: string, where: string): Upstream {
    const m = /^(?:(https?):\/\/)?([A-Za-z0-9.-]+(?::\d{1,5})?)\/?$/.exec(value.trim());
    if (!m) {
      throw new D7yError('D7Y_INVALID_ARGUMENT', `${where} "${value}" is not a registry`, {
        fix: 'name the registry as host[:port] or http(s)://host[:port], e.g. ghcr.io or http://127.0.0.1:5000',
      });
    }
    const name = m[2]!.toLowerCase();
    const scheme = m[1] ?? (this.insecure?.has(name) || isLoopback(name) ? 'http' : 'https');
    return { scheme, host: API_HOSTS[name] ?? name };
  }
}

/** A registry on this host (`localhost`, 127.0.0.0/8), spoken to over plain http as Docker does. */
function isLoopback(hostPort: string): boolean {
  const host = hostPort.replace(/:\d+$/, '');
  return host === 'localhost' || /^127(\.\d{1,3}){3}$/.test(host);
}
