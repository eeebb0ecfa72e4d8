/**
 * Which `Host` headers the API answers, against DNS rebinding: a web page whose own name the
 * attacker re-points at 127.0.0.1 reaches the agent "same-origin", but its requests still
 * carry the attacker's name in `Host`, which is refused here.
 *
 * Allowed without configuration: `localhost` and any IP literal (`127.0.0.1`, `10.1.2.3`,
 * `[::1]`), since an IP literal has no DNS record to re-point (so the bound address, whatever
 * it is, always works). Other names must be listed. The port is not compared.
 *
 * @module
 */

import { HttpError } from "./responses.ts";

/** Most characters of a host name (DNS: 253). */
const MAX_NAME_LENGTH = 253;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^\[[0-9a-f:.]+(%25[0-9a-z._~-]+)?\]$/;
const NAME =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** A `Host` value's host part, lower-cased, without port or trailing dot; `""` if malformed. */
export function hostPart(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.length > MAX_NAME_LENGTH + 8) return "";
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    if (end < 0) return "";
    const after = h.slice(end + 1);
    if (after !== "" && !/^:\d{1,5}$/.test(after)) return "";
    return h.slice(0, end + 1);
  }
  const colon = h.indexOf(":");
  if (colon >= 0) {
    if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return "";
    h = h.slice(0, colon);
  }
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

/** True for an IPv4 literal (dotted quad) or a bracketed IPv6 literal. */
function isIpLiteral(h: string): boolean {
  const v4 = IPV4.exec(h);
  if (v4) return v4.slice(1).every((part) => Number(part) <= 255);
  return IPV6.test(h);
}

/**
 * Normalize one allowed host name (as given to `allowedHosts` or `--http-allow-host`): a DNS
 * name or IP literal, without port. Throws `TypeError` for anything else.
 *
 * @example
 * ```ts
 * import { allowedHostName } from "./hosts.ts";
 * allowedHostName("Agent.Example."); // "agent.example"
 * ```
 */
export function allowedHostName(name: string): string {
  const h = name.trim().toLowerCase().replace(/\.$/, "");
  if (!isIpLiteral(h) && !NAME.test(h)) {
    throw new TypeError(`not a host name without a port: ${JSON.stringify(name)}`);
  }
  return h;
}

/** Decides whether a request's `Host` is one this agent answers to. */
export class HostAllowlist {
  readonly #names: ReadonlySet<string>;

  /** Allow `localhost`, IP literals, and `extra` names (see {@linkcode allowedHostName}). */
  constructor(extra: readonly string[] = []) {
    this.#names = new Set(["localhost", ...extra.map(allowedHostName)]);
  }

  /** True when `host` (a `Host` header value) names this agent. */
  allows(host: string): boolean {
    const h = hostPart(host);
    return h !== "" && (this.#names.has(h) || isIpLiteral(h));
  }

  /**
   * Throw a 421 {@linkcode HttpError} unless `req`'s `Host` header (or, without one, its
   * URL's host) is allowed.
   */
  check(req: Request): void {
    const host = req.headers.get("host") ?? new URL(req.url).host;
    if (!this.allows(host)) {
      throw new HttpError(
        421,
        "this agent does not answer to that Host; add the name with --http-allow-host",
        {},
        "host",
      );
    }
  }
}
