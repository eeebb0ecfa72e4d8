/**
 * The demo: a small cluster on loopback with the live dashboard. Every few seconds a member
 * is taken down — killed without a goodbye, or leaving gracefully — and later brought back
 * under the same name, so you can watch suspicion, death, departure and rejoin happen.
 *
 *   deno task demo                       (or: npm run demo, bun examples/demo.ts)
 *   deno task demo --nodes 8 --every 10 --duration 120 --http 127.0.0.1:8080
 *
 * Stops on Ctrl-C, or by itself after --duration seconds (default 600): every member leaves
 * gracefully and every socket is closed.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { type Agent, AgentBindError, startAgent } from "../src/agent/agent.ts";
import { eventJson } from "../src/http/json.ts";
import { eventLine } from "../src/cli/format.ts";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "5" },
    every: { type: "string", default: "12" },
    duration: { type: "string", default: "600" },
    http: { type: "string", default: "127.0.0.1:7373" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: deno task demo [--nodes N] [--every SECONDS] [--duration SECONDS] [--http HOST:PORT]",
  );
  process.exit(0);
}
const count = Math.max(3, Math.min(50, Number(values.nodes) || 5));
const everyMs = Math.max(0.5, Number(values.every) || 12) * 1000;
const durationMs = Math.max(1, Number(values.duration) || 600) * 1000;

const tune = { probeInterval: 500, probeTimeout: 200, gossipInterval: 100, suspicionMult: 3 };
const t0 = performance.now();
const stamp = () => `${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
const say = (line: string) => console.log(`${stamp()} ${line}`);
const tags = (i: number) => ({
  role: i === 0 ? "observer" : i % 2 ? "web" : "db",
  zone: `z${i % 3}`,
});

// The observer serves the dashboard; it is never taken down.
let observer: Agent;
try {
  observer = await startAgent({
    name: "node-0",
    bind: "127.0.0.1:0",
    http: values.http,
    tags: tags(0),
    tune,
  });
} catch (error) {
  if (!(error instanceof AgentBindError)) throw error;
  say(`${values.http} is taken; using a free port instead`);
  observer = await startAgent({
    name: "node-0",
    bind: "127.0.0.1:0",
    http: "127.0.0.1:0",
    tags: tags(0),
    tune,
  });
}
const seed = `127.0.0.1:${observer.node.address.port}`;
const url = `http://127.0.0.1:${observer.http!.port}/`;
// eventLine starts with an ISO time; the demo's own clock is enough.
observer.node.onEvent((e) => say(`[node-0 sees] ${eventLine(eventJson(e)).replace(/^\S+ /, "")}`));

const members = new Map<string, { agent?: Agent; port: number; index: number }>();
async function bringUp(index: number): Promise<void> {
  const name = `node-${index}`;
  const port = members.get(name)?.port ?? 0;
  const agent = await startAgent({
    name,
    bind: `127.0.0.1:${port}`,
    join: [seed],
    tags: tags(index),
    tune,
  });
  members.set(name, { agent, port: agent.node.address.port, index });
}
for (let i = 1; i < count; i++) await bringUp(i);

console.log(`
  shoal demo: ${count} members on loopback
  dashboard   ${url}
  metrics     ${url}metrics
  members     deno task shoal members --http 127.0.0.1:${observer.http!.port}
  Every ${everyMs / 1000}s a member goes down (killed or leaving) or comes back.
  Ctrl-C stops; the demo ends by itself after ${durationMs / 1000}s.
`);

// The chaos: down (kill or leave), then back up, cycling through node-1..node-(n-1).
let stopping = false;
let wake = () => {};
const nap = (ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });

async function chaosStep(step: number): Promise<void> {
  const index = 1 + (Math.floor(step / 2) % (count - 1));
  const name = `node-${index}`;
  const entry = members.get(name)!;
  if (step % 2 === 0 && entry.agent) {
    const agent = entry.agent;
    entry.agent = undefined;
    if (Math.floor(step / 2) % 2 === 0) {
      say(`killing ${name} (no goodbye: watch it turn suspect, then dead)`);
      await agent.shutdown({ leave: false });
    } else {
      say(`${name} leaves gracefully (others see "left", not "dead")`);
      await agent.shutdown({ leave: true });
    }
  } else if (!entry.agent) {
    say(`restarting ${name} on port ${entry.port} (it rejoins through node-0)`);
    await bringUp(index);
  }
}

const chaos = (async () => {
  for (let step = 0; !stopping; step++) {
    await nap(everyMs);
    if (stopping) break;
    try {
      await chaosStep(step);
    } catch (error) {
      say(`chaos step failed: ${(error as Error).message}`);
    }
  }
})();

let resolveStop!: (why: string) => void;
const stopRequested = new Promise<string>((r) => (resolveStop = r));
const deadline = setTimeout(() => resolveStop(`${durationMs / 1000}s are up`), durationMs);
let interrupts = 0;
const onSignal = (signal: string) => {
  if (++interrupts > 1) process.exit(130);
  resolveStop(signal);
};
process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGTERM", () => onSignal("SIGTERM"));

const why = await stopRequested;
stopping = true;
clearTimeout(deadline);
wake();
await chaos; // let a step in progress finish, so nothing it starts is left running
say(`${why}: every member leaves...`);
const running = [...members.values()].flatMap((m) => m.agent ? [m.agent] : []);
await Promise.all(running.map((a) => a.shutdown({ leave: true })));
await observer.shutdown({ leave: true });
say("stopped");
process.exit(0);
