/**
 * The datagram transport an agent uses: the runtime's native adapter, except on Deno without
 * `--unstable-net` (as when run straight from JSR), where `node:dgram` stands in.
 *
 * @module
 */

import { detectDatagramBinder, runtimeName } from "../transport/auto.ts";
import type { DatagramBinder } from "../transport/types.ts";

/**
 * Pick the transport for this runtime.
 *
 * @example
 * ```ts ignore
 * const binder = await agentTransport(); // denoDatagram, bunDatagram or nodeDatagram
 * ```
 */
export async function agentTransport(): Promise<DatagramBinder> {
  const deno = (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno;
  if (runtimeName() === "deno" && typeof deno?.listenDatagram !== "function") {
    return (await import("../transport/node_udp.ts")).nodeDatagram;
  }
  return await detectDatagramBinder();
}
