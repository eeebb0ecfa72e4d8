/**
 * A member host for the fault tests: one process (of the runtime that runs the test) that
 * starts one or more shoal nodes on real sockets and reports on stdout, one JSON object a line.
 * The fault tests run it inside a network namespace (`ip netns exec NS <runtime> _member.ts`).
 *
 * Argument: one JSON {@linkcode HostSpec}. Output lines:
 * - `{"ev":"ready","name","port","incarnation","t"}` once per started node;
 * - `{"ev":"event","observer","type","member","incarnation","t"}` for each membership event;
 * - `{"ev":"view","id","t","views":{observer:{member:"state/incarnation"}}}` on `view ID`;
 * - `{"ev":"closed","name","t"}`, `{"ev":"error","message"}`, `{"ev":"bye"}`.
 *
 * Commands on stdin, one a line: `view ID`, `close NAME` (stop without leaving), `start JSON`
 * (one more node, a {@linkcode NodeSpec}), `quit`. The process exits when stdin ends (the test
 * went away) and at `lifeMs` at the latest, so a lost child never outlives its test for long.
 *
 * @module
 */
import process from "node:process";
import { createNode, type ShoalNode } from "../../mod.ts";
import type { ConfigOverrides, ConfigPreset } from "../../src/core/config.ts";

/** One node to start. */
export interface NodeSpec {
  readonly name: string;
  /** `host:port` to bind (and advertise). */
  readonly bind: string;
  readonly seeds?: readonly string[];
}

/** What one host process runs. */
export interface HostSpec {
  readonly nodes: readonly NodeSpec[];
  /** Timing preset (default `"lan"`, as createNode). */
  readonly preset?: ConfigPreset;
  readonly config?: ConfigOverrides;
  /** Hard upper bound of the process's life, in ms. */
  readonly lifeMs: number;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as HostSpec;
const nodes = new Map<string, ShoalNode>();

function emit(line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + "\n");
}

async function start(n: NodeSpec): Promise<void> {
  const node = await createNode({
    name: n.name,
    bind: n.bind,
    seeds: n.seeds ?? [],
    preset: spec.preset ?? "lan",
    config: spec.config,
  });
  nodes.set(n.name, node);
  node.onEvent((e) => {
    emit({
      ev: "event",
      observer: n.name,
      type: e.type,
      member: e.member.name,
      incarnation: e.member.incarnation,
      t: Date.now(),
    });
  });
  emit({
    ev: "ready",
    name: n.name,
    port: node.address.port,
    incarnation: node.localMember().incarnation,
    t: Date.now(),
  });
}

async function quit(code: number): Promise<never> {
  await Promise.allSettled([...nodes.values()].map((n) => n.close()));
  emit({ ev: "bye" });
  process.exit(code);
}

async function command(line: string): Promise<void> {
  const sp = line.indexOf(" ");
  const cmd = sp < 0 ? line : line.slice(0, sp);
  const arg = sp < 0 ? "" : line.slice(sp + 1);
  if (cmd === "view") {
    const views: Record<string, Record<string, string>> = {};
    for (const [name, node] of nodes) {
      const v: Record<string, string> = {};
      for (const m of node.members()) v[m.name] = `${m.state}/${m.incarnation}`;
      views[name] = v;
    }
    emit({ ev: "view", id: arg, t: Date.now(), views });
  } else if (cmd === "close") {
    const node = nodes.get(arg);
    nodes.delete(arg);
    await node?.close();
    emit({ ev: "closed", name: arg, t: Date.now() });
  } else if (cmd === "start") {
    await start(JSON.parse(arg) as NodeSpec);
  } else if (cmd === "quit") {
    await quit(0);
  }
}

setTimeout(() => {
  emit({ ev: "error", message: `lifeMs ${spec.lifeMs} reached` });
  void quit(3);
}, spec.lifeMs).unref();

let buffered = "";
let queue = Promise.resolve();
process.stdin.on("data", (chunk) => {
  buffered += String(chunk);
  let nl;
  while ((nl = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (line) {
      queue = queue.then(() => command(line)).catch((e) => {
        emit({ ev: "error", message: String(e?.stack ?? e) });
      });
    }
  }
});
process.stdin.on("end", () => void quit(0));

try {
  for (const n of spec.nodes) await start(n);
} catch (e) {
  emit({ ev: "error", message: String((e as Error)?.stack ?? e) });
  await quit(2);
}
