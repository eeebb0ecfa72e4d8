/**
 * Transports: the datagram and stream interfaces, adapters for Deno, Bun and Node, the
 * in-memory stream network, and runtime detection.
 *
 * @module
 */

export * from "./types.ts";
export { denoDatagram } from "./deno_udp.ts";
export { bunDatagram } from "./bun_udp.ts";
export { nodeDatagram } from "./node_udp.ts";
export { nodeStream } from "./node_tcp.ts";
export { detectDatagramBinder, type RuntimeName, runtimeName } from "./auto.ts";
export * from "./stream_types.ts";
export { denoStream } from "./deno_tcp.ts";
export { bunStream } from "./bun_tcp.ts";
export { MemoryStreamNetwork, type MemoryStreamNetworkOptions } from "./memory_stream.ts";
export { detectStreamBinder } from "./auto.ts";
