/**
 * The node's stream side (memberlist's TCP): moves stream requests to the core and its
 * answers back, on the node's port, and performs the core's stream effects. The core decides
 * every answer (`Swim.handleStreamRequest`).
 *
 * Inbound connections are bounded three ways (protocol.md §6.9): one that sends nothing
 * within the header deadline is closed (and one that is idle makes room when the listener is
 * full); at most `maxExchanges` exchanges are served at once, each holding its slot from its
 * first byte, and a connection that finds them all taken is closed at once; every exchange,
 * in or out, ends by the whole-exchange deadline (memberlist's TCPTimeout).
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";
import type { Effect } from "../core/effects.ts";
import type { StreamReply, StreamRequest } from "../core/messages.ts";
import type { Swim } from "../core/swim.ts";
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_MAX_CONNECTIONS,
  type StreamBinder,
  StreamError,
  type StreamListener,
  type StreamListenerStats,
} from "../transport/stream_types.ts";
import type { SecurityOptions } from "../wire/security.ts";
import { type ExchangeSlots, serveStream, streamRequest } from "../wire/stream_exchange.ts";

/** Default cap on exchanges served at once (memberlist's limit on push/pulls in progress). */
export const DEFAULT_MAX_EXCHANGES = 128;
/** Whole-exchange deadline used when the host's is not a positive finite number. */
export const FALLBACK_STREAM_TIMEOUT_MS = 10_000;

/** Counters of stream activity. */
export interface StreamStats {
  /** Push/pull exchanges completed (either side). */
  pushPulls: number;
  /** Push/pull exchanges that failed (dial, timeout, framing, remote error). */
  pushPullErrors: number;
  /** Fallback pings answered / sent. */
  pingsServed: number;
  /** Inbound streams that could not be read or answered (the three below included). */
  serveErrors: number;
  /** Inbound exchanges cut by the whole-exchange deadline (a slow or stalled peer). */
  serveTimeouts: number;
  /** Inbound connections closed at once: `maxExchanges` exchanges were in progress. */
  busyRefused: number;
  /** Inbound exchanges in progress now (a gauge: they hold a slot). */
  inFlight: number;
  /** Inbound connections closed because they sent nothing within the header deadline. */
  idleClosed: number;
  /** Idle inbound connections closed to make room for a new one. */
  idleEvicted: number;
  /** Inbound connections closed at once: the listener was full and none of them idle. */
  connectionsRejected: number;
  /** Reliable user messages sent that failed. */
  userErrors: number;
  /** Exceptions caught in a stream callback (should stay 0). */
  internalErrors: number;
}

/** What the stream side needs from the node. */
export interface StreamHost {
  /** The state machine. */
  readonly swim: Swim;
  /** Perform effects the core returned. */
  apply(effects: Effect[]): void;
  /** Whole-exchange timeout (memberlist's TCPTimeout). */
  readonly timeoutMs: number;
  /** Encryption and label settings, shared with packets. */
  readonly security: SecurityOptions;
  /** LZW-compress what we send. */
  readonly compress: boolean;
  /**
   * An inbound connection that sends nothing for this many ms is closed; default
   * {@linkcode DEFAULT_HEADER_TIMEOUT_MS}.
   */
  readonly headerTimeoutMs?: number;
  /** Exchanges served at once; default {@linkcode DEFAULT_MAX_EXCHANGES}. */
  readonly maxExchanges?: number;
  /** Inbound connections open at once; default {@linkcode DEFAULT_MAX_CONNECTIONS}. */
  readonly maxConnections?: number;
}

type Counters = Omit<
  StreamStats,
  "inFlight" | "idleClosed" | "idleEvicted" | "connectionsRejected"
>;

/** Serves and performs stream exchanges for one node. */
export class StreamEndpoint {
  readonly #binder: StreamBinder;
  readonly #host: StreamHost;
  readonly #abort = new AbortController();
  readonly #maxExchanges: number;
  readonly #slots: ExchangeSlots;
  #inFlight = 0;
  #listener: StreamListener | undefined;
  readonly #counters: Counters = {
    pushPulls: 0,
    pushPullErrors: 0,
    pingsServed: 0,
    serveErrors: 0,
    serveTimeouts: 0,
    busyRefused: 0,
    userErrors: 0,
    internalErrors: 0,
  };

  /** An endpoint on `binder` for `host`; call {@linkcode StreamEndpoint.listen}. */
  constructor(binder: StreamBinder, host: StreamHost) {
    this.#binder = binder;
    this.#host = host;
    this.#maxExchanges = Math.max(1, host.maxExchanges ?? DEFAULT_MAX_EXCHANGES);
    this.#slots = {
      acquire: () => {
        if (this.#inFlight >= this.#maxExchanges) return false;
        this.#inFlight++;
        return true;
      },
      release: () => void this.#inFlight--,
    };
  }

  /** Counters, a fresh snapshot (the listener's included). */
  get stats(): StreamStats {
    const l: StreamListenerStats | undefined = this.#listener?.stats;
    return {
      ...this.#counters,
      inFlight: this.#inFlight,
      idleClosed: l?.idleClosed ?? 0,
      idleEvicted: l?.evicted ?? 0,
      connectionsRejected: l?.rejected ?? 0,
    };
  }

  /** Listen on the node's address (the same port as its datagram socket). */
  async listen(host: string, port: number): Promise<void> {
    this.#listener = await this.#binder.listen({
      host,
      port,
      maxConnections: this.#host.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      headerTimeoutMs: this.#host.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
      onConnection: (conn) => {
        const c = this.#counters;
        if (this.#inFlight >= this.#maxExchanges) {
          c.busyRefused++;
          void conn.close();
          return;
        }
        const options = { ...this.#options(), slots: this.#slots };
        void serveStream(conn, (req, from) => this.#answer(req, from), options)
          .then((outcome) => {
            if (outcome.busy) c.busyRefused++;
            if (outcome.error instanceof StreamError && outcome.error.kind === "timeout") {
              c.serveTimeouts++;
            }
            if (outcome.error !== undefined) c.serveErrors++;
            else if (outcome.request?.type === "pushPull") c.pushPulls++;
          })
          .catch(() => c.internalErrors++);
      },
    });
  }

  /** Perform a stream effect. Never throws; failures are counted or reported to the core. */
  perform(effect: Effect): void {
    const swim = this.#host.swim;
    const c = this.#counters;
    switch (effect.type) {
      case "pushPull":
        streamRequest(this.#binder, effect.to, effect.request, this.#options())
          .then((reply) => {
            c.pushPulls++;
            this.#host.apply(swim.handlePushPullReply(reply));
          })
          .catch(() => c.pushPullErrors++);
        break;
      case "streamPing": {
        const seqNo = effect.ping.seqNo;
        streamRequest(this.#binder, effect.to, effect.ping, this.#options(effect.timeout))
          .then(() => true, () => false)
          .then((ok) => this.#host.apply(swim.handleStreamPingResult(seqNo, ok)))
          .catch(() => c.internalErrors++);
        break;
      }
      case "userStream":
        streamRequest(
          this.#binder,
          effect.to,
          { type: "user", payload: effect.payload },
          this.#options(),
        ).catch(() => c.userErrors++);
        break;
    }
  }

  /** Stop listening and abandon exchanges in flight. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#listener?.close();
  }

  #answer(request: StreamRequest, from: PeerAddress): StreamReply | null {
    const { reply, effects } = this.#host.swim.handleStreamRequest(request, from);
    this.#host.apply(effects);
    if (reply?.type === "ack") this.#counters.pingsServed++;
    return reply;
  }

  /** Every exchange gets a deadline: the host's timeout, or a fallback when it is unusable. */
  #options(timeoutMs: number = this.#host.timeoutMs) {
    const usable = Number.isFinite(timeoutMs) && timeoutMs > 0;
    return {
      ...this.#host.security,
      timeoutMs: usable ? timeoutMs : FALLBACK_STREAM_TIMEOUT_MS,
      signal: this.#abort.signal,
      compress: this.#host.compress,
    };
  }
}
