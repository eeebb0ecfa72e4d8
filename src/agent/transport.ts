/**
 * The transports an agent uses: the runtime's native adapters, except on Deno without
 * `--unstable-net` (as when run straight from JSR), where `node:dgram` stands in for UDP
 * (TCP, `Deno.listen`, is stable and stays native).
 *
 * @module
 */

import { detectDatagramBinder, detectStreamBinder, runtimeName } from "../transport/auto.ts";
import type { StreamBinder } from "../transport/stream_types.ts";
import type { DatagramBinder } from "../transport/types.ts";

/** A datagram and a stream transport. */
export interface AgentTransports {
  /** For UDP. */
  readonly datagram: DatagramBinder;
  /** For TCP (push/pull, fallback pings, reliable messages). */
  readonly stream: StreamBinder;
}

/**
 * Pick the transports for this runtime.
 *
 * @example
 * ```ts ignore
 * const { datagram, stream } = await agentTransports(); // e.g. denoDatagram, denoStream
 * ```
 */
export async function agentTransports(): Promise<AgentTransports> {
  const deno = (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno;
  const datagram = runtimeName() === "deno" && typeof deno?.listenDatagram !== "function"
    ? (await import("../transport/node_udp.ts")).nodeDatagram
    : await detectDatagramBinder();
  return { datagram, stream: await detectStreamBinder() };
}
