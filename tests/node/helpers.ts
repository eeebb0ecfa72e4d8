import { createNode, type NodeOptions, type ShoalNode } from "../../mod.ts";
import type { SwimConfig } from "../../src/core/config.ts";

/** Tight timings so real-UDP tests finish in seconds. */
export const FAST: Partial<SwimConfig> = {
  probeInterval: 200,
  probeTimeout: 100,
  gossipInterval: 50,
  suspicionMult: 2,
  pushPullInterval: 5000,
  gossipToTheDeadTime: 10_000,
  joinRetryMax: 1000,
};

/** Start `count` nodes on loopback (OS-chosen ports), all seeded with the first. */
export async function startCluster(
  count: number,
  prefix: string,
  extra: Partial<NodeOptions> = {},
): Promise<ShoalNode[]> {
  const nodes: ShoalNode[] = [];
  const first = await createNode({
    name: `${prefix}0`,
    bind: "127.0.0.1:0",
    config: FAST,
    ...extra,
  });
  nodes.push(first);
  const seed = `127.0.0.1:${first.address.port}`;
  for (let i = 1; i < count; i++) {
    nodes.push(
      await createNode({
        name: `${prefix}${i}`,
        bind: "127.0.0.1:0",
        seeds: [seed],
        config: FAST,
        ...extra,
      }),
    );
  }
  return nodes;
}

/** Poll `predicate` every 20 ms until true or `timeoutMs` passes. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs: number,
  what = "condition",
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (predicate()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!predicate()) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** True when each node sees exactly `names` alive. */
export function allSeeAlive(nodes: ShoalNode[], names: string[]): boolean {
  const want = [...names].sort().join(",");
  return nodes.every((n) => n.members("alive").map((m) => m.name).sort().join(",") === want);
}
