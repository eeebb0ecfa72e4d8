/**
 * Seed name resolution for the node shell: performs the core's `resolve` effect.
 *
 * A/AAAA names go through `node:dns/promises` `lookup(name, { all: true })` in every runtime:
 * it is the system resolver (getaddrinfo), so `/etc/hosts` and the search domains of
 * `/etc/resolv.conf` apply, as for Go's memberlist. SRV names (`_service._proto.domain`) use
 * `Deno.resolveDns(name, "SRV")` under Deno and `resolveSrv` elsewhere; their targets are then
 * looked up the same way. Under Deno both need `--allow-net`.
 *
 * @module
 */

import { lookup, resolveSrv } from "node:dns/promises";
import { isSrvName } from "../core/address.ts";
import type { ResolvedAddress } from "../core/effects.ts";

/**
 * Resolves one seed name to its addresses now. Rejects (or returns none) when it does not
 * resolve. A/AAAA answers leave `port` out (the seed's port applies); SRV answers set it.
 *
 * @example
 * ```ts
 * import type { SeedResolver } from "@shoal/swim";
 * const fixed: SeedResolver = async (name) =>
 *   name === "seed.shoal.test" ? [{ host: "127.0.0.1" }] : [];
 * ```
 */
export type SeedResolver = (name: string) => Promise<readonly ResolvedAddress[]>;

/** SRV targets looked up per name, at most. */
const MAX_SRV_TARGETS = 16;

interface SrvRecord {
  readonly target: string;
  readonly port: number;
  readonly priority: number;
}

type DenoDns = { resolveDns?: (name: string, type: "SRV") => Promise<SrvRecord[]> };

/**
 * The runtime's resolver (see the module documentation): A/AAAA through the system's
 * `getaddrinfo`, SRV through DNS.
 *
 * @example
 * ```ts ignore
 * import { systemResolver } from "@shoal/swim";
 * console.log(await systemResolver("localhost")); // [{ host: "127.0.0.1" }]
 * ```
 */
export async function systemResolver(name: string): Promise<readonly ResolvedAddress[]> {
  if (!isSrvName(name)) return await lookupHosts(name);
  const deno = (globalThis as { Deno?: DenoDns }).Deno;
  const records: SrvRecord[] = deno?.resolveDns
    ? await deno.resolveDns(name, "SRV")
    : (await resolveSrv(name)).map((r) => ({ ...r, target: r.name }));
  const chosen = [...records].sort((a, b) => a.priority - b.priority).slice(0, MAX_SRV_TARGETS);
  const out: ResolvedAddress[] = [];
  for (const r of chosen) {
    const hosts = await lookupHosts(r.target.replace(/\.$/, "")).catch(() => []);
    for (const h of hosts) out.push({ host: h.host, port: r.port });
  }
  return out;
}

async function lookupHosts(name: string): Promise<ResolvedAddress[]> {
  const found = await lookup(name, { all: true });
  return found.map((a) => ({ host: a.address }));
}
