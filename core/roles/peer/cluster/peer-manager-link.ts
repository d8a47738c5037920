import type { Startable } from '../../../contracts/startable.js';
import { isD7yError } from '../../../errors/d7y-error.js';
import type { Logger } from '../../../logging/logger.js';
import {
  ManagerClient, type PeerRegistration, type PeerStatusReport, type PushedCommandView,
} from '../../../protocol/manager/manager-client.js';
import type { NodeTls } from '../../../protocol/tls/node-tls.js';
import { holdCommandChannel } from '../../common/command-channel.js';

/** How long one command wait is held by the manager before it is renewed. */
const COMMAND_WAIT_MS = 20_000;
const COMMAND_TIMEOUT_MS = 60 * 60_000;

export interface PeerManagerLinkOptions {
  url: string;
  token?: string;
  tls?: NodeTls;
  keepaliveIntervalMs: number;
  /** This peer as it registers (ports are known once the servers listen). */
  registration: () => Omit<PeerRegistration, 'status'>;
  /** Disk, bandwidth and state now; bandwidth over the time since the last call. */
  status: () => Promise<PeerStatusReport>;
  /** Carries out a pushed command; its result, or a throw for a failure. */
  onCommand: (command: PushedCommandView, signal: AbortSignal) => Promise<Record<string, unknown>>;
  logger: Logger;
}

/**
 * A peer's (or seed peer's) own tie to the manager: registers with its ports, version, disk and
 * bandwidth, keeps alive every `keepaliveIntervalMs` with fresh figures (registering again when
 * the manager forgot it), and holds the command channel open, acknowledging every command with its
 * result. A manager that is down is retried; downloads never wait for it. Never throws from its timers.
 */
export class PeerManagerLink implements Startable {
  private readonly client: ManagerClient;
  private id?: string;
  private timer?: NodeJS.Timeout;
  private readonly abort = new AbortController();
  private failing = false;
  private listening?: Promise<void>;

  constructor(private readonly o: PeerManagerLinkOptions) {
    this.client = new ManagerClient({ url: o.url, token: o.token, tls: o.tls, timeoutMs: 5_000 });
  }

  /** The id the manager gave this peer (once registered). */
  get peerId(): string | undefined {
    return this.id;
  }

  async start(): Promise<void> {
    await this.keepAlive();
    this.timer = setInterval(() => void this.keepAlive(), this.o.keepaliveIntervalMs);
    this.timer.unref();
    this.listening = this.listen();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.abort.abort();
    await this.listening;
    await this.client.close();
  }

  private async keepAlive(): Promise<void> {
    try {
      const status = await this.o.status();
      if (this.id) {
        await this.client.keepAlivePeer(this.id, status);
      } else {
        const r = await this.client.registerPeer({ ...this.o.registration(), status });
        this.id = r.id;
        this.o.logger.info({ managerPeerId: r.id, clusterId: r.cluster_id ?? undefined }, 'peer registered with the manager');
      }
      if (this.failing) this.o.logger.info({ manager: this.o.url }, 'manager reachable again');
      this.failing = false;
    } catch (err) {
      if (isD7yError(err, 'D7Y_NOT_FOUND')) this.id = undefined;
      this.warn(err);
    }
  }

  private listen(): Promise<void> {
    return holdCommandChannel({
      signal: this.abort.signal, logger: this.o.logger, timeoutMs: COMMAND_TIMEOUT_MS, onError: (err) => this.warn(err), run: this.o.onCommand,
      wait: (signal) => {
        if (!this.id) throw new Error('not registered yet');
        return this.client.waitPeerCommands(this.id, COMMAND_WAIT_MS, signal);
      },
      ack: (id, ack) => this.client.ackCommand(id, { peer_id: this.id!, ...ack }),
    });
  }

  private warn(err: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.o.logger.warn({ manager: this.o.url, err: (err as Error).message }, 'manager unreachable or refused this peer; retrying');
  }
}
