/**
 * Choosing the address to advertise when bound to a wildcard address.
 *
 * @module
 */

import { networkInterfaces } from "node:os";

/**
 * The bound host if it is a specific address; for `0.0.0.0`/`::` the first non-internal
 * IPv4 address of this machine, or loopback when there is none.
 */
export function pickAdvertiseHost(bound: string): string {
  if (bound !== "0.0.0.0" && bound !== "::") return bound;
  try {
    for (const list of Object.values(networkInterfaces())) {
      for (const info of list ?? []) {
        if (!info.internal && info.family === "IPv4") return info.address;
      }
    }
  } catch {
    // Some sandboxes deny interface listing; fall through to loopback.
  }
  return "127.0.0.1";
}
