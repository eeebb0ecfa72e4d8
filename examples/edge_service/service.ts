/**
 * An HTTP edge service with a shoal node embedded: every instance knows the others through
 * SWIM, and a request for a key is answered by the instance that owns the key, chosen by
 * rendezvous hashing ({@linkcode ownerOf}) over the members tagged `role=edge`.
 *
 *   deno run -A examples/edge_service/service.ts --name edge-1 --http 127.0.0.1:8081
 *   bun examples/edge_service/service.ts --name edge-2 --http 127.0.0.1:8082 \
 *       --join 127.0.0.1:PORT_OF_EDGE_1
 *
 * Routes:
 *
 * - `GET /peers`: the members this instance knows, with their tags, as JSON.
 * - `GET /kv/:key`: the key's value, computed and cached by its owner (a stand-in for any
 *   per-key work: a cache shard, a rate limiter, a websocket room). Response headers name
 *   who served it (`x-edge-served-by`), who this instance thinks owns it (`x-edge-owner`) and
 *   who forwarded it (`x-edge-forwarded-by`).
 * - `GET /healthz`: 200 while the node is joined and healthy, 503 otherwise (leaving, not
 *   joined yet, Lifeguard health degraded): what a load balancer polls.
 *
 * Membership metadata: serf-style tags (a msgpack map of strings, as `shoal agent --meta`
 * writes them): `role=edge` and `http=HOST:PORT`, the address this instance serves HTTP on.
 *
 * Why forward and not redirect: the client (or the load balancer in front) then needs to
 * reach one instance only, the members' own HTTP addresses can stay private, and when the
 * owner cannot be reached (killed, and the cluster has not noticed yet) the instance retries
 * the next member in rendezvous order, which is where the key moves once the owner is
 * declared dead, so the client never sees the failure. A redirect would cost the client a
 * second round trip and hand it an address that may be dead. A forwarded request carries
 * `x-edge-hop`, and whoever receives it serves it, so views that briefly disagree cannot
 * make a request bounce.
 *
 * Owners are members `alive` or `suspect`: a suspicion is often refuted within a probe or
 * two, and moving keys away and back costs more than the occasional fallback forward.
 * Members declared dead, or that left, own nothing.
 *
 * SIGTERM (or SIGINT): `/healthz` turns 503, the node leaves gracefully (others see `left`
 * at once, not a failure), the HTTP server and the node close, and the process exits by
 * itself.
 *
 * Runs under Deno (`Deno.serve`) and Bun (`Bun.serve`).
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import {
  type ConfigOverrides,
  createNode,
  encodeTags,
  type Member,
  memberTags,
  rankOwners,
  type ShoalNode,
} from "../../mod.ts";

/** The tag every instance carries; owners are chosen among members with it. */
export const EDGE_TAG = "role=edge";

/** The states in which a member owns keys (see the module documentation). */
export const OWNER_STATES = ["alive", "suspect"] as const;

/** Timings for a loopback demo: failures are detected in about two seconds. */
export const FAST_CONFIG: ConfigOverrides = {
  probeInterval: 300,
  probeTimeout: 150,
  gossipInterval: 100,
  suspicionMult: 2,
  pushPullInterval: 5000,
};

/** How to start one instance. */
export interface EdgeServiceOptions {
  /** Member name, unique in the cluster. */
  readonly name: string;
  /** Gossip (UDP and TCP) address, `HOST:PORT`; port 0 picks a free one. */
  readonly gossip?: string;
  /** HTTP host and port; port 0 picks a free one. */
  readonly httpHost?: string;
  readonly httpPort?: number;
  /** Gossip addresses of members to join, `HOST:PORT` each. */
  readonly seeds?: readonly string[];
  /** Protocol settings; {@linkcode FAST_CONFIG} by default. */
  readonly config?: ConfigOverrides;
  /** How long a forwarded request may take before the next owner is tried. Default 2 s. */
  readonly forwardTimeoutMs?: number;
  /** `/healthz` answers 503 from this Lifeguard health score on (0 is healthy). Default 4. */
  readonly unhealthyScore?: number;
  /** Where to log (default: stderr). */
  readonly log?: (line: string) => void;
}

/** A running instance. */
export interface EdgeService {
  readonly name: string;
  readonly node: ShoalNode;
  /** `HOST:PORT` of the HTTP server. */
  readonly http: string;
  /** `HOST:PORT` of the gossip socket. */
  readonly gossip: string;
  /** Answer one request (what the HTTP server calls). */
  handle(req: Request): Promise<Response>;
  /** Leave the cluster gracefully, then close the HTTP server and the node. Idempotent. */
  shutdown(): Promise<void>;
}

/** The slice of `Deno.serve` used here. */
interface DenoServe {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (req: Request) => Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

/** The slice of `Bun.serve` used here. */
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(req: Request): Promise<Response>;
  }): { port: number; stop(closeActiveConnections?: boolean): Promise<void> | void };
}

interface Served {
  port: number;
  close(): Promise<void>;
}

/** Serve `handler` with the runtime's own server: `Deno.serve` or `Bun.serve`. */
function serve(
  hostname: string,
  port: number,
  handler: (req: Request) => Promise<Response>,
): Served {
  const g = globalThis as unknown as { Deno?: DenoServe; Bun?: BunServe };
  if (g.Bun) {
    const server = g.Bun.serve({ hostname, port, fetch: handler });
    // true: close keep-alive connections too, so nothing holds the process afterwards. By
    // then the node has left and every peer routes around this instance.
    return { port: server.port, close: async () => void await server.stop(true) };
  }
  if (g.Deno) {
    const server = g.Deno.serve({ hostname, port, onListen: () => {} }, handler);
    return { port: server.addr.port, close: () => server.shutdown() };
  }
  throw new Error("the edge service runs under Deno or Bun");
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json", ...headers },
  });

/** The JSON shape of one member in `/peers`. */
function peerJson(m: Member) {
  const tags = memberTags(m.meta);
  return {
    name: m.name,
    address: `${m.address}:${m.port}`,
    state: m.state,
    incarnation: m.incarnation,
    tags: tags ?? null,
  };
}

/**
 * Start one instance: the HTTP server first (its port goes into the node's tags), then the
 * node. Resolves once both are up; the node joins its seeds in the background.
 *
 * @example
 * ```ts ignore
 * const edge = await startEdgeService({ name: "edge-1", httpPort: 8081 });
 * console.log(edge.http, edge.gossip);
 * await edge.shutdown();
 * ```
 */
export async function startEdgeService(options: EdgeServiceOptions): Promise<EdgeService> {
  const name = options.name;
  const httpHost = options.httpHost ?? "127.0.0.1";
  const seeds = options.seeds ?? [];
  const forwardTimeoutMs = options.forwardTimeoutMs ?? 2000;
  const unhealthyScore = options.unhealthyScore ?? 4;
  const log = options.log ?? ((line: string) => console.error(line));
  /** The owner-local cache: what "owning a key" means here. */
  const cache = new Map<string, { value: string; hits: number }>();
  let leaving = false;
  let node: ShoalNode | undefined;

  const ownersOf = (key: string): Member[] =>
    rankOwners(key, node!.members(), { tag: EDGE_TAG, states: [...OWNER_STATES] });

  const serveLocally = (key: string, owner: string | undefined): Response => {
    let entry = cache.get(key);
    if (!entry) {
      entry = { value: `value of ${key}, computed by ${name}`, hits: 0 };
      cache.set(key, entry);
    }
    entry.hits++;
    return json({ key, value: entry.value, hits: entry.hits, servedBy: name }, 200, {
      "x-edge-served-by": name,
      "x-edge-owner": owner ?? name,
    });
  };

  const forward = async (key: string, to: Member): Promise<Response> => {
    const http = memberTags(to.meta)?.http;
    if (!http) throw new Error(`${to.name} has no http tag`);
    const res = await fetch(`http://${http}/kv/${encodeURIComponent(key)}`, {
      headers: { "x-edge-hop": name },
      signal: AbortSignal.timeout(forwardTimeoutMs),
    });
    const body = await res.arrayBuffer();
    const headers = new Headers(res.headers);
    headers.set("x-edge-forwarded-by", name);
    return new Response(body, { status: res.status, headers });
  };

  const kv = async (key: string, req: Request): Promise<Response> => {
    // A forwarded request is served here, whatever this instance thinks: no bouncing.
    if (req.headers.has("x-edge-hop")) return serveLocally(key, undefined);
    const ranked = ownersOf(key);
    const owner = ranked[0]?.name;
    // Try the owner, then (while the cluster has not noticed it is gone) the runner-up.
    for (const [i, m] of ranked.slice(0, 3).entries()) {
      if (m.name === name) return serveLocally(key, owner);
      try {
        const res = await forward(key, m);
        res.headers.set("x-edge-owner", owner!);
        if (i > 0) res.headers.set("x-edge-fallback", String(i));
        return res;
      } catch (error) {
        log(`${name}: forwarding ${key} to ${m.name} failed (${(error as Error).name}); next`);
      }
    }
    if (ranked.length === 0) return serveLocally(key, undefined); // alone and untagged
    return json({ error: "no owner reachable", key, owner }, 503, { "retry-after": "1" });
  };

  const healthz = (): Response => {
    const n = node!;
    const others = n.members("alive").filter((m) => m.name !== name).length;
    const joined = seeds.length === 0 || others > 0;
    const healthy = n.healthScore < unhealthyScore;
    const ok = !leaving && !n.closed && joined && healthy;
    return json({
      status: ok ? "ok" : leaving ? "leaving" : !joined ? "joining" : "degraded",
      name,
      healthScore: n.healthScore,
      alivePeers: others,
    }, ok ? 200 : 503);
  };

  const handle = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (req.method !== "GET") return json({ error: "method not allowed" }, 405);
    if (url.pathname === "/healthz") return healthz();
    if (url.pathname === "/peers") {
      return json({ self: name, members: node!.members().map(peerJson) });
    }
    if (url.pathname.startsWith("/kv/") && url.pathname.length > 4) {
      return await kv(decodeURIComponent(url.pathname.slice(4)), req);
    }
    return json({ error: "not found" }, 404);
  };

  const server = serve(httpHost, options.httpPort ?? 0, async (req) => {
    if (!node) return json({ error: "starting" }, 503);
    try {
      return await handle(req);
    } catch (error) {
      log(`${name}: ${req.url}: ${error}`);
      return json({ error: "internal error" }, 500);
    }
  });
  const http = `${httpHost}:${server.port}`;
  try {
    node = await createNode({
      name,
      bind: options.gossip ?? "127.0.0.1:0",
      seeds: [...seeds],
      config: options.config ?? FAST_CONFIG,
      meta: encodeTags({ role: "edge", http }),
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  const started = node;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      leaving = true; // /healthz answers 503 from now on
      try {
        await started.leave(); // resolves once the leave has been gossiped
      } catch (error) {
        log(`${name}: leave: ${error}`);
      } finally {
        await server.close();
        await started.close();
      }
    })();
  return {
    name,
    node: started,
    http,
    gossip: `${started.address.host}:${started.address.port}`,
    handle,
    shutdown,
  };
}

/** Let a timer not keep the process alive (Deno's timers are numbers, Bun's objects). */
function unref(timer: ReturnType<typeof setTimeout>): void {
  const deno = (globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno;
  if (typeof timer === "number") deno?.unrefTimer(timer);
  else (timer as { unref?: () => void }).unref?.();
}

/** `--name N [--gossip HOST:PORT] [--http HOST:PORT] [--join HOST:PORT,...]` */
async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      name: { type: "string" },
      gossip: { type: "string", default: "127.0.0.1:0" },
      http: { type: "string", default: "127.0.0.1:0" },
      join: { type: "string", multiple: true, default: [] },
    },
  });
  if (!values.name) {
    console.error("usage: service.ts --name N [--gossip H:P] [--http H:P] [--join H:P,...]");
    process.exitCode = 2;
    return;
  }
  const colon = values.http.lastIndexOf(":");
  const edge = await startEdgeService({
    name: values.name,
    gossip: values.gossip,
    httpHost: values.http.slice(0, colon),
    httpPort: Number(values.http.slice(colon + 1)),
    seeds: values.join.flatMap((s) => s.split(",")).filter(Boolean),
  });
  // One line on stdout for whoever started us (examples/edge_service/demo.ts reads it).
  console.log(
    `edge-ready ${JSON.stringify({ name: edge.name, http: edge.http, gossip: edge.gossip })}`,
  );
  const onSignal = (signal: string) => {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    console.error(`${edge.name}: ${signal}: leaving`);
    // A safety net only: it does not keep the process alive, and fires only if leaving hangs.
    const watchdog = setTimeout(() => {
      console.error(`${edge.name}: still running 15 s after ${signal}; exiting`);
      process.exit(1);
    }, 15_000);
    unref(watchdog);
    edge.shutdown().then(() => console.error(`${edge.name}: left and closed`));
  };
  const onTerm = () => onSignal("SIGTERM");
  const onInt = () => onSignal("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
}

if (import.meta.main) await main();
