/**
 * CRC-32 (IEEE 802.3, the zlib polynomial) for memberlist's `hasCrc` wrapper (protocol.md §3.4).
 *
 * @module
 */

import { crc32 as zlibCrc32 } from "node:zlib";

/**
 * The IEEE CRC-32 of `bytes` as an unsigned 32-bit number.
 *
 * @example
 * ```ts
 * import { crc32 } from "./crc.ts";
 * crc32(new TextEncoder().encode("hello")); // 0x3610a686
 * ```
 */
export function crc32(bytes: Uint8Array): number {
  return zlibCrc32(bytes) >>> 0;
}
