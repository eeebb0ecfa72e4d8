/**
 * Peer addresses: the `host:port` form transports use, the raw IP bytes memberlist puts on
 * the wire, and seeds, which may be DNS names (the host resolves them). Pure functions, no DNS.
 *
 * @module
 */

/**
 * Where a datagram goes or came from. `host` is an IP literal (IPv4 dotted quad or IPv6).
 *
 * @example
 * ```ts
 * import type { PeerAddress } from "@shoal/swim";
 * const seed: PeerAddress = { host: "127.0.0.1", port: 7946 };
 * ```
 */
export interface PeerAddress {
  /** IP literal. */
  readonly host: string;
  /** UDP/TCP port, 1–65535 (0 only when asking a transport to pick one). */
  readonly port: number;
}

/** Thrown for an address string or IP literal that cannot be parsed. */
export class AddressError extends Error {
  /** Create an address error. */
  constructor(message: string) {
    super(message);
    this.name = "AddressError";
  }
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Parse an IPv4 or IPv6 literal into its 4 or 16 raw bytes.
 *
 * @example
 * ```ts
 * import { ipToBytes } from "@shoal/swim";
 * ipToBytes("127.0.0.1"); // Uint8Array [127, 0, 0, 1]
 * ```
 */
export function ipToBytes(ip: string): Uint8Array {
  const v4 = IPV4.exec(ip);
  if (v4) {
    const out = new Uint8Array(4);
    for (let i = 0; i < 4; i++) {
      const n = Number(v4[i + 1]);
      if (n > 255) throw new AddressError(`invalid IPv4 address: ${ip}`);
      out[i] = n;
    }
    return out;
  }
  return ipv6ToBytes(ip);
}

function ipv6ToBytes(ip: string): Uint8Array {
  const bad = () => new AddressError(`invalid IP address: ${ip}`);
  if (!ip.includes(":")) throw bad();
  let text = ip;
  const lastColon = text.lastIndexOf(":");
  const last = text.slice(lastColon + 1);
  if (last.includes(".")) {
    const v4 = ipToBytes(last);
    if (v4.length !== 4) throw bad();
    const hi = ((v4[0] << 8) | v4[1]).toString(16);
    const lo = ((v4[2] << 8) | v4[3]).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const parse = (s: string): number[] =>
    s === "" ? [] : s.split(":").map((h) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(h)) throw bad();
      return parseInt(h, 16);
    });
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const groups = head.length + rest.length;
  if (halves.length === 1 && groups !== 8) throw bad();
  if (halves.length === 2 && groups > 7) throw bad();
  const words = [...head, ...new Array(8 - groups).fill(0), ...rest];
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/**
 * Format raw IP bytes (4 or 16) as text. IPv4-mapped IPv6 bytes give the dotted quad, since
 * that is what a datagram socket needs to reach the peer.
 *
 * @example
 * ```ts
 * import { bytesToIp } from "@shoal/swim";
 * bytesToIp(new Uint8Array([10, 0, 0, 2])); // "10.0.0.2"
 * ```
 */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join(".");
  if (bytes.length !== 16) throw new AddressError(`IP must be 4 or 16 bytes, got ${bytes.length}`);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff;
  if (mapped) return bytes.subarray(12).join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return compressIpv6(words);
}

function compressIpv6(words: string[]): string {
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  if (bestStart < 0) return words.join(":");
  return `${words.slice(0, bestStart).join(":")}::${words.slice(bestStart + bestLen).join(":")}`;
}

/**
 * Parse `"host:port"` or `"[v6]:port"` with an IP literal (or `localhost`). Without a port,
 * `defaultPort` is used. Seeds may be DNS names too: see {@linkcode parseSeed}.
 *
 * @example
 * ```ts
 * import { parseAddress } from "@shoal/swim";
 * parseAddress("127.0.0.1:7947"); // { host: "127.0.0.1", port: 7947 }
 * parseAddress("[::1]:7946");     // { host: "::1", port: 7946 }
 * ```
 */
export function parseAddress(text: string, defaultPort = 7946): PeerAddress {
  let host = text.trim();
  let portText: string | undefined;
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    if (end < 0) throw new AddressError(`invalid address: ${text}`);
    const after = host.slice(end + 1);
    host = host.slice(1, end);
    if (after.startsWith(":")) portText = after.slice(1);
    else if (after !== "") throw new AddressError(`invalid address: ${text}`);
  } else if (host.split(":").length === 2) {
    [host, portText] = host.split(":");
  }
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || portText === "") {
    throw new AddressError(`invalid port in address: ${text}`);
  }
  if (host === "localhost") host = "127.0.0.1";
  ipToBytes(host); // validates
  return { host, port };
}

/**
 * A seed to join through: an IP literal (`host`), or a DNS `name` that the host resolves to
 * addresses each time the seed is used (A/AAAA; SRV for `_service._proto.domain`, whose
 * records carry their own ports). Exactly one of `host` and `name` is set.
 *
 * @example
 * ```ts
 * import type { SeedAddress } from "@shoal/swim";
 * const literal: SeedAddress = { host: "127.0.0.1", port: 7946 };
 * const named: SeedAddress = { name: "seed.shoal.test", port: 7946 };
 * ```
 */
export interface SeedAddress {
  /** A DNS name, resolved on every use. */
  readonly name?: string;
  /** An IP literal. */
  readonly host?: string;
  /** The port (for an SRV name, the records' ports win). */
  readonly port: number;
}

/** Longest DNS name accepted, as RFC 1035 (without the trailing dot). */
const MAX_NAME_LENGTH = 253;
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;

/** Is `name` a syntactically valid DNS name (labels of letters, digits, `-`, `_`)? */
export function isDnsName(name: string): boolean {
  const text = name.endsWith(".") ? name.slice(0, -1) : name;
  if (text === "" || text.length > MAX_NAME_LENGTH) return false;
  const labels = text.split(".");
  // An all-numeric last label is a mistyped IPv4 literal, not a name (RFC 3696 §2).
  if (/^\d+$/.test(labels[labels.length - 1])) return false;
  return labels.every((l) => LABEL.test(l));
}

/**
 * Is `name` an SRV name, `_service._proto.domain` (e.g. `_shoal._udp.svc.cluster.local`)?
 *
 * @example
 * ```ts
 * import { isSrvName } from "@shoal/swim";
 * isSrvName("_shoal._udp.example.com"); // true
 * isSrvName("seed.example.com");        // false
 * ```
 */
export function isSrvName(name: string): boolean {
  return /^_[^.]+\._(tcp|udp)\.[^.]/i.test(name);
}

/**
 * Parse a seed: `"host:port"` or `"[v6]:port"` with an IP literal, or `"name:port"` with a DNS
 * name (resolved later, by the host). Without a port, `defaultPort` is used. `localhost` is
 * `127.0.0.1`. Throws {@linkcode AddressError} for anything else.
 *
 * @example
 * ```ts
 * import { parseSeed } from "@shoal/swim";
 * parseSeed("10.0.0.2:7946");        // { host: "10.0.0.2", port: 7946 }
 * parseSeed("seed.shoal.test:7947"); // { name: "seed.shoal.test", port: 7947 }
 * ```
 */
export function parseSeed(text: string, defaultPort = 7946): SeedAddress {
  const trimmed = text.trim();
  const colons = trimmed.split(":").length - 1;
  const hostText = colons === 1 ? trimmed.slice(0, trimmed.indexOf(":")) : trimmed;
  if (trimmed.startsWith("[") || colons > 1 || hostText === "localhost") {
    return parseAddress(text, defaultPort);
  }
  if (!isDnsName(hostText)) {
    if (/^[\d.]*$/.test(hostText)) return parseAddress(text, defaultPort); // IPv4 errors
    throw new AddressError(`invalid address: ${text} (neither an IP address nor a DNS name)`);
  }
  const portText = colons === 1 ? trimmed.slice(trimmed.indexOf(":") + 1) : undefined;
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || portText === "") {
    throw new AddressError(`invalid port in address: ${text}`);
  }
  return { name: hostText.toLowerCase().replace(/\.$/, ""), port };
}

/** Format a seed as `name:port`, or as {@linkcode formatAddress} for a literal. */
export function formatSeed(seed: SeedAddress): string {
  return seed.name !== undefined
    ? `${seed.name}:${seed.port}`
    : formatAddress({ host: seed.host ?? "", port: seed.port });
}

/** Format an address as `host:port` (`[v6]:port` for IPv6). */
export function formatAddress(address: PeerAddress): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/** A stable map key for an address. */
export function addressKey(address: PeerAddress): string {
  return formatAddress(address);
}
