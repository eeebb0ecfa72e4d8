/**
 * Networks in CIDR notation (`"127.0.0.0/8"`, `"fd00::/8"`), for `allowedCidrs`.
 *
 * @module
 */

import { AddressError, ipToBytes } from "./address.ts";

/** A parsed network: its address bytes and prefix length. */
export interface Cidr {
  /** Network address, 4 or 16 bytes. */
  readonly bytes: Uint8Array;
  /** Prefix length in bits. */
  readonly prefix: number;
}

/**
 * Parse `"ip/prefix"` (a bare IP is a single host).
 *
 * @example
 * ```ts
 * import { parseCidr } from "./cidr.ts";
 * parseCidr("127.0.0.0/8"); // { bytes: Uint8Array [127, 0, 0, 0], prefix: 8 }
 * ```
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const bytes = ipToBytes(slash < 0 ? text : text.slice(0, slash));
  const bits = bytes.length * 8;
  const prefix = slash < 0 ? bits : Number(text.slice(slash + 1));
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits || text.endsWith("/")) {
    throw new AddressError(`invalid network: ${text}`);
  }
  return { bytes, prefix };
}

/** Does the network contain the address `ip` (4 or 16 raw bytes)? IPv4 never matches IPv6. */
export function cidrContains(net: Cidr, ip: Uint8Array): boolean {
  if (ip.length !== net.bytes.length) return false;
  let bits = net.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((ip[i] & mask) !== (net.bytes[i] & mask)) return false;
  }
  return true;
}

/** A predicate for "inside one of `cidrs`"; everything passes when `cidrs` is undefined. */
export function allowedBy(cidrs: readonly string[] | undefined): (ip: Uint8Array) => boolean {
  if (cidrs === undefined) return () => true;
  const nets = cidrs.map(parseCidr);
  return (ip) => nets.some((n) => cidrContains(n, ip));
}
