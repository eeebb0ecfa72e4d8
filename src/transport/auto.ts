/**
 * Picks the datagram and stream adapters for the current runtime. Each adapter is loaded with
 * a dynamic `import()`, so a runtime only ever loads its own modules.
 *
 * @module
 */

import type { StreamBinder } from "./stream_types.ts";
import type { DatagramBinder } from "./types.ts";

/** The JavaScript runtimes shoal can tell apart. */
export type RuntimeName = "deno" | "bun" | "node" | "unknown";

/**
 * The runtime this code is running in. Bun is tested first and Node last, because Deno also
 * defines a Node-style `process` global.
 *
 * @example
 * ```ts
 * import { runtimeName } from "./auto.ts";
 * if (runtimeName() === "deno") console.log("needs --unstable-net for UDP");
 * ```
 */
export function runtimeName(): RuntimeName {
  const g = globalThis as {
    Bun?: unknown;
    Deno?: unknown;
    process?: { versions?: { node?: string } };
  };
  if (typeof g.Bun !== "undefined") return "bun";
  if (typeof g.Deno !== "undefined") return "deno";
  if (typeof g.process?.versions?.node === "string") return "node";
  return "unknown";
}

/** Datagram adapter loaders by runtime: the native APIs of Deno and Bun, `node:dgram` on Node. */
const LOADERS: Partial<Record<RuntimeName, () => Promise<DatagramBinder>>> = {
  deno: async () => (await import("./deno_udp.ts")).denoDatagram,
  bun: async () => (await import("./bun_udp.ts")).bunDatagram,
  node: async () => (await import("./node_udp.ts")).nodeDatagram,
};

/**
 * Load the UDP adapter for the current runtime: `Deno.listenDatagram` on Deno (or `node:dgram`
 * when Deno runs without `--unstable-net`), `Bun.udpSocket` on Bun, `node:dgram` on Node.
 *
 * @throws {Error} on a runtime without an adapter (browsers, ...).
 *
 * @example
 * ```ts
 * import { detectDatagramBinder } from "./auto.ts";
 * const binder = await detectDatagramBinder();
 * const t = await binder.bind({ host: "127.0.0.1", port: 0, onDatagram: () => {} });
 * await t.close();
 * ```
 */
export async function detectDatagramBinder(): Promise<DatagramBinder> {
  const runtime = runtimeName();
  const deno = (globalThis as { Deno?: { listenDatagram?: unknown } }).Deno;
  if (runtime === "deno" && typeof deno?.listenDatagram !== "function") {
    // Without --unstable-net: node:dgram needs no flag in Deno (slower, but it works).
    return (await import("./node_udp.ts")).nodeDatagram;
  }
  const load = LOADERS[runtime];
  if (!load) {
    throw new Error(
      `no UDP transport for runtime "${runtime}": adapters exist for Deno, Bun and Node; ` +
        "on other runtimes pass a DatagramBinder explicitly",
    );
  }
  return await load();
}

/** Stream adapter loaders by runtime: Deno's and Bun's TCP APIs, `node:net` on Node. */
const STREAM_LOADERS: Partial<Record<RuntimeName, () => Promise<StreamBinder>>> = {
  deno: async () => (await import("./deno_tcp.ts")).denoStream,
  bun: async () => (await import("./bun_tcp.ts")).bunStream,
  node: async () => (await import("./node_tcp.ts")).nodeStream,
};

/**
 * Load the TCP adapter for the current runtime (Deno, Bun or Node).
 *
 * @throws {Error} on a runtime without an adapter (browsers, ...).
 *
 * @example
 * ```ts
 * import { detectStreamBinder } from "./auto.ts";
 * const binder = await detectStreamBinder();
 * const l = await binder.listen({ host: "127.0.0.1", port: 0, onConnection: (c) => c.close() });
 * await l.close();
 * ```
 */
export async function detectStreamBinder(): Promise<StreamBinder> {
  const runtime = runtimeName();
  const load = STREAM_LOADERS[runtime];
  if (!load) {
    throw new Error(
      `no TCP transport for runtime "${runtime}": adapters exist for Deno, Bun and Node; ` +
        "on other runtimes pass a StreamBinder explicitly",
    );
  }
  return await load();
}
