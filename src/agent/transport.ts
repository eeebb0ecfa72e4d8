/**
 * The transports an agent uses: the runtime's native adapters, except on Deno without
 * `--unstable-net` (as when run straight from JSR), where `node:dgram` stands in for UDP
 * (TCP, `Deno.listen`, is stable and stays native).
 *
 * @module
 */

import { detectDatagramBinder, detectStreamBinder } from "../transport/auto.ts";
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
  // detectDatagramBinder already falls back to node:dgram on Deno without --unstable-net.
  return { datagram: await detectDatagramBinder(), stream: await detectStreamBinder() };
}
