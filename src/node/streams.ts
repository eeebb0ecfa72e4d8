/**
 * The node's stream side (memberlist's TCP): moves stream requests to the core and its
 * answers back, on the node's port, and performs the core's stream effects. The core decides
 * every answer (`Swim.handleStreamRequest`).
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";
import type { Effect } from "../core/effects.ts";
import type { StreamReply, StreamRequest } from "../core/messages.ts";
import type { Swim } from "../core/swim.ts";
import type { StreamBinder, StreamListener } from "../transport/stream_types.ts";
import type { SecurityOptions } from "../wire/security.ts";
import { serveStream, streamRequest } from "../wire/stream_exchange.ts";

/** Counters of stream activity. */
export interface StreamStats {
  /** Push/pull exchanges completed (either side). */
  pushPulls: number;
  /** Push/pull exchanges that failed (dial, timeout, framing, remote error). */
  pushPullErrors: number;
  /** Fallback pings answered / sent. */
  pingsServed: number;
  /** Inbound streams that could not be read or answered. */
  serveErrors: number;
  /** Reliable user messages sent that failed. */
  userErrors: number;
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
}

/** Serves and performs stream exchanges for one node. */
export class StreamEndpoint {
  readonly #binder: StreamBinder;
  readonly #host: StreamHost;
  readonly #abort = new AbortController();
  #listener: StreamListener | undefined;
  /** Counters. */
  readonly stats: StreamStats = {
    pushPulls: 0,
    pushPullErrors: 0,
    pingsServed: 0,
    serveErrors: 0,
    userErrors: 0,
  };

  /** An endpoint on `binder` for `host`; call {@linkcode StreamEndpoint.listen}. */
  constructor(binder: StreamBinder, host: StreamHost) {
    this.#binder = binder;
    this.#host = host;
  }

  /** Listen on the node's address (the same port as its datagram socket). */
  async listen(host: string, port: number): Promise<void> {
    this.#listener = await this.#binder.listen({
      host,
      port,
      onConnection: (conn) => {
        void serveStream(conn, (req, from) => this.#answer(req, from), this.#options())
          .then((outcome) => {
            if (outcome.error !== undefined) this.stats.serveErrors++;
            else if (outcome.request?.type === "pushPull") this.stats.pushPulls++;
          });
      },
    });
  }

  /** Perform a stream effect. Never throws; failures are counted or reported to the core. */
  perform(effect: Effect): void {
    const swim = this.#host.swim;
    switch (effect.type) {
      case "pushPull":
        streamRequest(this.#binder, effect.to, effect.request, this.#options())
          .then((reply) => {
            this.stats.pushPulls++;
            this.#host.apply(swim.handlePushPullReply(reply));
          })
          .catch(() => this.stats.pushPullErrors++);
        break;
      case "streamPing": {
        const seqNo = effect.ping.seqNo;
        streamRequest(this.#binder, effect.to, effect.ping, this.#options(effect.timeout))
          .then(() => true, () => false)
          .then((ok) => this.#host.apply(swim.handleStreamPingResult(seqNo, ok)));
        break;
      }
      case "userStream":
        streamRequest(
          this.#binder,
          effect.to,
          { type: "user", payload: effect.payload },
          this.#options(),
        ).catch(() => this.stats.userErrors++);
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
    if (reply?.type === "ack") this.stats.pingsServed++;
    return reply;
  }

  #options(timeoutMs: number = this.#host.timeoutMs) {
    return {
      ...this.#host.security,
      timeoutMs,
      signal: this.#abort.signal,
      compress: this.#host.compress,
    };
  }
}
