/**
 * One memberlist stream exchange from either end (protocol.md §6.1, §6.4–6.6): a connection carries
 * one request and at most one reply, then it is closed.
 *
 * - {@linkcode streamRequest}: dial, send a push/pull, a ping or a user message, read and
 *   check the reply (`pushPull`; `ack` with the same SeqNo; nothing for a user message),
 *   close. An `err` reply rejects with {@linkcode RemoteStreamError}.
 * - {@linkcode serveStream}: read a request from an accepted connection, let a handler answer
 *   it, write the answer, close — all within one deadline, as Go's acceptor does. A request
 *   that can't be read gets an `err` reply (as Go sends for framing errors). With
 *   {@linkcode ExchangeSlots}, an exchange holds a slot from its first byte to its close, and
 *   one that finds no slot free is closed unanswered.
 *
 * Both ends run every step (dial, write, read) under the one deadline of `timeoutMs`.
 *
 * @module
 */

import type { PeerAddress } from "../core/address.ts";
import { DecodeError } from "../core/codec.ts";
import type { Ack, Ping, PushPull, StreamRequest, UserMessage } from "../core/messages.ts";
import { type StreamBinder, type StreamConn, StreamError } from "./conn.ts";
import type { SecurityOptions } from "./security.ts";
import {
  encodeStreamMessage,
  readStreamMessage,
  type StreamSide,
  writeStreamBytes,
  writeStreamMessage,
} from "./stream.ts";
import type { StreamMessage } from "./stream_messages.ts";

export type { StreamRequest };

/** Settings of one exchange. */
export interface ExchangeOptions extends SecurityOptions {
  /** Deadline for the whole exchange in ms (memberlist's TCPTimeout; a fallback ping uses the probe deadline). */
  readonly timeoutMs: number;
  /** Abort the exchange from outside (shutdown). */
  readonly signal?: AbortSignal;
  /** LZW-compress what we send (Go's `EnableCompression`, default false). */
  readonly compress?: boolean;
  /** Most bytes read for one message; default 20 MiB. */
  readonly maxMessageBytes?: number;
  /** Most bytes a compressed message may expand to; default 40 MiB. */
  readonly maxDecompressedBytes?: number;
}

/** The peer answered with an `err` message. */
export class RemoteStreamError extends Error {
  /** Create it from the peer's error text. */
  constructor(remoteMessage: string) {
    super(`remote error: ${remoteMessage}`);
    this.name = "RemoteStreamError";
  }
}

/** A deadline shared by every step: dial, write, read. */
function remaining(until: number): number {
  return Math.max(0, until - performance.now());
}

function ioOptions(options: ExchangeOptions, side: StreamSide, until: number) {
  return { ...options, side, timeoutMs: remaining(until) };
}

/**
 * Send `request` to `to` and return the checked reply: the peer's `PushPull`, its `Ack`, or
 * `null` for a user message.
 *
 * @throws {StreamError} when the dial, a write or the deadline fails.
 * @throws {DecodeError} for a reply that can't be read or has the wrong type or SeqNo
 * (`unknown-type`, `bad-field`, ...).
 * @throws {RemoteStreamError} when the peer answered with `err`.
 *
 * @example
 * ```ts
 * import { streamRequest } from "./stream_exchange.ts";
 * import { detectStreamBinder } from "../transport/auto.ts";
 * const binder = await detectStreamBinder();
 * const reply = await streamRequest(binder, { host: "127.0.0.1", port: 7946 }, {
 *   type: "pushPull", join: true, states: [], userState: new Uint8Array(0),
 * }, { timeoutMs: 10_000 }).catch(() => null);
 * ```
 */
export async function streamRequest(
  binder: StreamBinder,
  to: PeerAddress,
  request: PushPull,
  options: ExchangeOptions,
): Promise<PushPull>;
/** A TCP ping: resolves with the matching `Ack`. */
export async function streamRequest(
  binder: StreamBinder,
  to: PeerAddress,
  request: Ping,
  options: ExchangeOptions,
): Promise<Ack>;
/** A reliable user message: resolves with `null` once written. */
export async function streamRequest(
  binder: StreamBinder,
  to: PeerAddress,
  request: UserMessage,
  options: ExchangeOptions,
): Promise<null>;
export async function streamRequest(
  binder: StreamBinder,
  to: PeerAddress,
  request: StreamRequest,
  options: ExchangeOptions,
): Promise<PushPull | Ack | null> {
  const until = performance.now() + options.timeoutMs;
  // Encode first: the peer's header deadline starts when we connect.
  const bytes = await encodeStreamMessage(request, { ...options, side: "dialer" });
  const conn = await binder.dial(to, remaining(until));
  try {
    await writeStreamBytes(conn, bytes, ioOptions(options, "dialer", until));
    if (request.type === "user") return null;
    const expected = request.type === "pushPull" ? "pushPull" : "ack";
    const reply = await readStreamMessage(conn, {
      ...ioOptions(options, "dialer", until),
      accept: [expected, "err"],
    });
    if (reply.type === "err") throw new RemoteStreamError(reply.error);
    if (reply.type === "ack" && request.type === "ping" && reply.seqNo !== request.seqNo) {
      throw new DecodeError(
        "bad-field",
        `ack for SeqNo ${reply.seqNo}, expected ${request.seqNo}`,
      );
    }
    return reply as PushPull | Ack;
  } finally {
    await conn.close();
  }
}

/**
 * Answers a request: the reply to write (a `PushPull` for a push/pull, an `Ack` for a
 * ping), or `null` to close without replying (a user message, a ping for another node).
 */
export type StreamHandler = (
  request: StreamRequest,
  remote: PeerAddress,
) => StreamMessage | null | Promise<StreamMessage | null>;

/** What happened on a served connection, for logs and counters. */
export interface ServeOutcome {
  /** The request, when it could be read. */
  readonly request?: StreamRequest;
  /** Why the exchange failed (a DecodeError, StreamError or handler error), if it did. */
  readonly error?: unknown;
  /** True when the request's first byte found no free slot: closed unanswered. */
  readonly busy?: boolean;
}

/** Slots for the exchanges a node serves at once (see {@linkcode serveStream}). */
export interface ExchangeSlots {
  /** Take a slot; false when none is free. */
  acquire(): boolean;
  /** Give back a slot that `acquire` gave. */
  release(): void;
}

/** Settings of {@linkcode serveStream}. */
export interface ServeOptions extends ExchangeOptions {
  /** Hold one of these from the request's first byte until the connection closes. */
  readonly slots?: ExchangeSlots;
}

/** `conn`, whose first bytes are let through only if `admit()` allows (else: closed, EOF). */
function gated(conn: StreamConn, admit: () => boolean): StreamConn {
  let first = true;
  return {
    remote: conn.remote,
    get closed() {
      return conn.closed;
    },
    read: async () => {
      const chunk = await conn.read();
      if (chunk === null || !first) return chunk;
      first = false;
      if (admit()) return chunk;
      await conn.close();
      return null;
    },
    write: (bytes) => conn.write(bytes),
    close: () => conn.close(),
  };
}

/**
 * Serve one accepted connection: read a request (`pushPull`, `ping` or `user`), hand it to
 * `handle`, write its reply, close. Never rejects: failures are reported in the outcome. A
 * request that can't be decoded is answered with an `err` message; a handler that throws
 * gets no reply (as Go logs and closes).
 *
 * @example
 * ```ts
 * import { serveStream } from "./stream_exchange.ts";
 * import type { StreamConn } from "./conn.ts";
 * declare const conn: StreamConn;
 * const outcome = await serveStream(conn, (req) =>
 *   req.type === "ping" ? { type: "ack", seqNo: req.seqNo, payload: null } : null, {
 *   timeoutMs: 10_000,
 * });
 * if (outcome.error) console.log("stream from", conn.remote, "failed:", outcome.error);
 * ```
 */
export async function serveStream(
  conn: StreamConn,
  handle: StreamHandler,
  options: ServeOptions,
): Promise<ServeOutcome> {
  const slots = options.slots;
  let held = false;
  let busy = false;
  const source = slots === undefined ? conn : gated(conn, () => {
    held = slots.acquire();
    busy = !held;
    return held;
  });
  let outcome: ServeOutcome;
  try {
    outcome = await serve(conn, source, handle, options);
  } catch (error) {
    outcome = { error }; // serve reports failures itself: a safety net
  } finally {
    await conn.close();
    if (held) slots!.release();
  }
  if (busy) return { error: new StreamError("closed", "no free slot: too many exchanges"), busy };
  return outcome;
}

async function serve(
  conn: StreamConn,
  source: StreamConn,
  handle: StreamHandler,
  options: ExchangeOptions,
): Promise<ServeOutcome> {
  const until = performance.now() + options.timeoutMs;
  let request: StreamRequest;
  try {
    request = await readStreamMessage(source, {
      ...ioOptions(options, "acceptor", until),
      accept: ["pushPull", "ping", "user"],
    }) as StreamRequest;
  } catch (error) {
    if (error instanceof DecodeError && error.kind !== "empty" && !conn.closed) {
      await writeStreamMessage(conn, { type: "err", error: error.message }, {
        ...ioOptions(options, "acceptor", until),
      }).catch(() => {});
    }
    return { error };
  }
  try {
    const reply = await handle(request, conn.remote);
    if (reply !== null) {
      await writeStreamMessage(conn, reply, ioOptions(options, "acceptor", until));
    }
    return { request };
  } catch (error) {
    return { request, error };
  }
}
