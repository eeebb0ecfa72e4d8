/**
 * The agent: a cluster member with everything around it that `shoal agent` runs — tags as
 * metadata, encryption and labels, a data directory, and the HTTP API with the dashboard.
 *
 * @module
 */

import { parseAddress } from "../core/address.ts";
import { type ConfigOverrides, type ConfigPreset, resolveConfig } from "../core/config.ts";
import type { ResolveResult } from "../core/effects.ts";
import { createNode, type ShoalNode } from "../node/node.ts";
import type { StreamBinder } from "../transport/stream_types.ts";
import { AddressInUseError, type DatagramBinder } from "../transport/types.ts";
import { type Api, createApi } from "../http/api.ts";
import { type HttpServer, serveHttp } from "../http/server.ts";
import { encodeTags, type Tags } from "../node/tags.ts";
import { createSerf, type Serf } from "../serf/serf.ts";
import { encodeSerfTags } from "../serf/tags.ts";
import { ChangeTracker } from "../http/tracker.ts";
import type { ClusterView } from "../http/view.ts";
import type { DataDirProblem } from "../node/persist.ts";
import { PeerSnapshot, readPeers } from "./snapshot.ts";
import { agentTransports } from "./transport.ts";

/** Thrown by {@linkcode startAgent} when its cluster (UDP/TCP) or HTTP address is taken. */
export class AgentBindError extends Error {
  /** Which socket could not be bound. */
  readonly socket: "UDP/TCP" | "HTTP";
  /** Create the error for `socket` at `address`. */
  constructor(socket: "UDP/TCP" | "HTTP", address: string, options?: { cause?: unknown }) {
    super(`cannot bind ${socket} ${address}: the address is already in use`, options);
    this.name = "AgentBindError";
    this.socket = socket;
  }
}

/** Options of {@linkcode startAgent}. */
export interface AgentOptions {
  /** Member name. */
  readonly name: string;
  /** Address to bind (UDP and TCP, one port), `host:port`. */
  readonly bind: string;
  /** Address others should use, `host:port`. */
  readonly advertise?: string;
  /** Members to join through, `host:port` each (the host may be a DNS name). */
  readonly join?: readonly string[];
  /**
   * Told the outcome of every seed name lookup. Default: a `shoal agent:` line on stderr when
   * a name stops resolving (it is retried) and when it resolves again.
   */
  readonly onResolve?: (result: ResolveResult) => void;
  /** Timing preset (default `"lan"`). */
  readonly profile?: ConfigPreset;
  /** Overrides of the preset's settings. */
  readonly tune?: ConfigOverrides;
  /** Tags, announced as metadata (a msgpack map of strings, as serf encodes them). */
  readonly tags?: Tags;
  /** Gossip encryption keys (16, 24 or 32 bytes); the first encrypts. */
  readonly keys?: readonly Uint8Array[];
  /** Packet label: only members with the same label can talk. */
  readonly label?: string;
  /**
   * Directory for the agent's state: the node's name and incarnation (so a restart outranks
   * its previous life) and `peers.json` (the members it knew, rejoined on start).
   */
  readonly dataDir?: string;
  /**
   * Told about each problem with the data directory: an empty or corrupt file (ignored, the
   * agent starts without it) or a failed write. Default: a `shoal agent:` line on stderr.
   */
  readonly onDataDirProblem?: (problem: DataDirProblem) => void;
  /** Serve the HTTP API and dashboard on this `host:port`. */
  readonly http?: string;
  /** Token required by the API's mutating routes (then callers need not be on loopback). */
  readonly httpToken?: string;
  /** Host names the API answers besides loopback names and IP literals (DNS-rebinding guard). */
  readonly httpAllowedHosts?: readonly string[];
  /** With a token, require it for reads too (default true). */
  readonly httpAuthenticateReads?: boolean;
  /** Datagram transport (default: the runtime's, see `agentTransports`). */
  readonly transport?: DatagramBinder;
  /** Stream (TCP) transport, or `false` for datagrams only (default: the runtime's). */
  readonly streams?: StreamBinder | false;
  /** Period of the dashboard's health updates, ms. */
  readonly healthIntervalMs?: number;
  /**
   * Run as a serf member (serf 0.8's tags, user events and queries; `src/serf/`): tags are
   * announced serf's way, and the HTTP API gains `POST /v1/event` and `POST /v1/query`.
   */
  readonly serf?: boolean;
}

/** A running agent. */
export interface Agent {
  /** The cluster member. */
  readonly node: ShoalNode;
  /** The serf member on top of `node`, with `serf: true`. */
  readonly serf: Serf | undefined;
  /** Last-change times of members. */
  readonly tracker: ChangeTracker;
  /** The HTTP server, when `http` was given. */
  readonly http: HttpServer | undefined;
  /** Names of the transports in use, e.g. `{ datagram: "node", stream: "node-tcp" }`. */
  readonly transports: { readonly datagram: string; readonly stream: string | undefined };
  /** Peers rejoined from the data directory. */
  readonly rejoined: readonly string[];
  /** How many data directory problems there have been (see `onDataDirProblem`). */
  readonly dataDirProblems: number;
  /** Resolves once the agent has shut down (by {@linkcode Agent.shutdown} or `POST /v1/leave`). */
  readonly done: Promise<void>;
  /** Optionally leave gracefully, then stop everything. Idempotent. */
  shutdown(options?: { readonly leave?: boolean }): Promise<void>;
}

/**
 * Start an agent. Rejects with {@linkcode AgentBindError} when the cluster or HTTP address
 * is taken (nothing is left open then), and with `ConfigError`, `AddressError`, `TagError`,
 * `KeyringError` or `RangeError` (label) for bad options.
 *
 * @example
 * ```ts ignore
 * const agent = await startAgent({ name: "a", bind: "127.0.0.1:7946", http: "127.0.0.1:7373" });
 * await agent.shutdown({ leave: true });
 * ```
 */
export async function startAgent(options: AgentOptions): Promise<Agent> {
  resolveConfig(options.profile ?? "lan", options.tune ?? {}); // fail before binding anything
  const meta = options.serf ? encodeSerfTags(options.tags ?? {}) : encodeTags(options.tags ?? {});
  const httpAddress = options.http === undefined ? undefined : parseAddress(options.http, 7373);
  let dataDirProblems = 0;
  const onDataDirProblem = (problem: DataDirProblem) => {
    dataDirProblems++;
    (options.onDataDirProblem ?? logDataDirProblem)(problem);
  };
  const rejoined = options.dataDir
    ? await readPeers(options.dataDir, { onProblem: onDataDirProblem })
    : [];
  const seeds = [...new Set([...(options.join ?? []), ...rejoined])];
  const defaults = options.transport && options.streams !== undefined
    ? undefined
    : await agentTransports();
  const transport = options.transport ?? defaults!.datagram;
  const streams = options.streams ?? defaults!.stream;
  const nodeOptions = {
    name: options.name,
    dataDir: options.dataDir,
    onDataDirProblem,
    bind: options.bind,
    advertise: options.advertise,
    seeds,
    preset: options.profile,
    config: options.tune,
    keys: options.keys?.length ? options.keys : undefined,
    label: options.label || undefined,
    transport,
    streams,
    onResolve: options.onResolve ?? seedResolutionLogger(),
  };
  let serf: Serf | undefined;
  const node = await bindOrExplain("UDP/TCP", options.bind, async () => {
    if (!options.serf) return await createNode({ ...nodeOptions, meta });
    serf = await createSerf({ ...nodeOptions, tags: options.tags ?? {} });
    return serf.node;
  });
  const tracker = new ChangeTracker(node);
  let snapshot: PeerSnapshot | undefined;
  let api: Api | undefined;
  let http: HttpServer | undefined;
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  let stopping: Promise<void> | undefined;

  const shutdown = (opts: { readonly leave?: boolean } = {}): Promise<void> =>
    stopping ??= (async () => {
      if (opts.leave && !node.closed) await (serf ?? node).leave().catch(() => {});
      api?.close();
      await http?.close();
      await snapshot?.close();
      tracker.close();
      await (serf ?? node).close();
      resolveDone();
    })();

  try {
    if (options.dataDir) {
      snapshot = await PeerSnapshot.open(options.dataDir, node, { onProblem: onDataDirProblem });
    }
    if (httpAddress) {
      api = createApi({
        view: serf ? serfView(serf) : node,
        serf,
        tracker,
        token: options.httpToken || undefined,
        allowedHosts: options.httpAllowedHosts,
        authenticateReads: options.httpAuthenticateReads,
        healthIntervalMs: options.healthIntervalMs,
        onLeft: () => void shutdown(),
      });
      const handler = api.handle;
      http = await bindOrExplain(
        "HTTP",
        options.http!,
        () => serveHttp({ host: httpAddress.host, port: httpAddress.port, handler }),
      );
    }
  } catch (error) {
    await shutdown();
    throw error;
  }
  return {
    node,
    serf,
    tracker,
    http,
    transports: { datagram: transport.name, stream: streams ? streams.name : undefined },
    rejoined,
    get dataDirProblems() {
      return dataDirProblems;
    },
    done,
    shutdown,
  };
}

/** The node as the API sees it, but leaving the serf way (leave intent first). */
function serfView(serf: Serf): ClusterView {
  const node = serf.node;
  return {
    name: node.name,
    members: () => node.members(),
    member: (name) => node.member(name),
    localMember: () => node.localMember(),
    onEvent: (listener) => node.onEvent(listener),
    stats: () => node.stats(),
    join: (seeds) => serf.join(seeds),
    leave: () => serf.leave(),
  };
}

/** Logs a seed name's lookups when they start failing and when they succeed again. */
function seedResolutionLogger(): (result: ResolveResult) => void {
  const failing = new Set<string>();
  return ({ name, addresses, error }) => {
    if (error !== undefined) {
      if (failing.size < 1024 && !failing.has(name)) {
        failing.add(name);
        console.error(`shoal agent: seed ${name} does not resolve (${error}); retrying`);
      }
    } else if (failing.delete(name)) {
      const hosts = (addresses ?? []).map((a) => a.port ? `${a.host}:${a.port}` : a.host);
      console.error(`shoal agent: seed ${name} resolves again: ${hosts.join(", ")}`);
    }
  };
}

function logDataDirProblem(problem: DataDirProblem): void {
  console.error(`shoal agent: data dir: ${problem.path}: ${problem.reason}`);
}

async function bindOrExplain<T>(
  socket: "UDP/TCP" | "HTTP",
  address: string,
  bind: () => Promise<T>,
): Promise<T> {
  try {
    return await bind();
  } catch (error) {
    if (error instanceof AddressInUseError) {
      throw new AgentBindError(socket, address, { cause: error });
    }
    throw error;
  }
}
