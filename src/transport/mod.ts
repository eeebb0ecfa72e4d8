/**
 * Datagram transports: the abstract interface, the native Deno and Bun UDP adapters, and
 * runtime detection.
 *
 * @module
 */

export * from "./types.ts";
export { denoDatagram } from "./deno_udp.ts";
export { bunDatagram } from "./bun_udp.ts";
export { detectDatagramBinder, type RuntimeName, runtimeName } from "./auto.ts";
export * from "./stream_types.ts";
export { denoStream } from "./deno_tcp.ts";
export { bunStream } from "./bun_tcp.ts";
export { MemoryStreamNetwork, type MemoryStreamNetworkOptions } from "./memory_stream.ts";
export { detectStreamBinder } from "./auto.ts";
