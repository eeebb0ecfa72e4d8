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
