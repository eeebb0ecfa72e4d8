/**
 * Cluster-benchmark driver for swim-js (npm `swim` 0.6.0) on Node: `--nodes N` swim-js nodes
 * in this one process, every one bootstrapping through the first, ports from `--base-port`.
 * Same line protocol as bench/cluster/shoal_driver.ts (see bench/cluster/run.ts).
 *
 *   node bench/cluster/swimjs_driver.mjs --swim .cache/swim-js/node_modules/swim --nodes 50 \
 *     --suspect-timeout 1359
 *
 * swim-js names members by "host:port"; states are 0 alive, 1 suspect, 2 faulty. It has no
 * gossip interval (it only piggy-backs) and one fixed suspicion timeout.
 */
import dgram from "node:dgram";
import { createRequire } from "node:module";
import process from "node:process";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    swim: { type: "string" },
    nodes: { type: "string", default: "10" },
    "base-port": { type: "string", default: "21000" },
    "suspect-timeout": { type: "string", default: "800" },
    "converge-timeout": { type: "string", default: "90" },
    interval: { type: "string", default: "200" },
    "ping-timeout": { type: "string", default: "100" },
    "ping-req-timeout": { type: "string", default: "100" },
    "ping-req-group-size": { type: "string", default: "3" },
  },
});
const n = Number(values.nodes);
const emit = (o) => console.log(JSON.stringify(o));

// Count every datagram swim-js sends (it calls socket.send(buf, 0, len, port, address)).
let packets = 0, bytes = 0;
const send = dgram.Socket.prototype.send;
dgram.Socket.prototype.send = function (buf, ...rest) {
  packets++;
  bytes += typeof rest[1] === "number" ? rest[1] : buf.length;
  return send.call(this, buf, ...rest);
};

const Swim = createRequire(import.meta.url)(values.swim);

/** `count` consecutive free UDP ports (on 0.0.0.0, as swim-js binds) from `from` on. */
async function freePorts(from, count) {
  for (let base = from; base < 60000; base += count) {
    const sockets = [];
    let ok = true;
    for (let i = 0; i < count && ok; i++) {
      const s = dgram.createSocket("udp4");
      ok = await new Promise((resolve) => {
        s.once("error", () => resolve(false));
        s.bind(base + i, "0.0.0.0", () => resolve(true));
      });
      sockets.push(s);
    }
    await Promise.all(sockets.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error("no free port range");
}

const base = await freePorts(Number(values["base-port"]), n);
const host = (i) => `127.0.0.1:${base + i}`;
const killed = new Set();
const seen = [];
let falseDead = 0, falseSuspect = 0;
let watch;

function onUpdate(observer, update) {
  if (killed.has(update.host)) {
    const w = watch;
    if (!w || w.victim !== update.host || killed.has(observer)) return;
    const at = performance.now() - w.t0;
    if (update.state >= 1) w.firstSuspectMs ??= at;
    if (update.state === 2) {
      w.firstDeadMs ??= at;
      w.dead.add(observer);
      if (w.dead.size === w.survivors) {
        w.allDeadMs = at;
        w.done();
      }
    }
    return;
  }
  if (update.state === 2) falseDead++;
  if (update.state === 1) falseSuspect++;
}

const start = performance.now();
const nodes = [];
for (let i = 0; i < n; i++) {
  const swim = new Swim({
    local: { host: host(i) },
    codec: "msgpack",
    interval: Number(values.interval),
    pingTimeout: Number(values["ping-timeout"]),
    pingReqTimeout: Number(values["ping-req-timeout"]),
    pingReqGroupSize: Number(values["ping-req-group-size"]),
    suspectTimeout: Number(values["suspect-timeout"]),
    joinTimeout: 5000,
  });
  seen.push(1);
  const me = host(i);
  // "change": a member appeared (+1) or became faulty (−1).
  swim.on("change", (u) => seen[i] += u.state === 2 ? -1 : 1);
  swim.on("update", (u) => onUpdate(me, u));
  swim.on("error", () => {});
  nodes.push(swim);
  if (i === 0) {
    await new Promise((resolve) => swim.bootstrap([], () => resolve()));
  } else {
    // Joining completes in the background, as shoal's and memberlist's do here.
    swim.bootstrap([host(0)], () => {});
    await new Promise((r) => setImmediate(r));
  }
}

// Convergence is timed from the last node's start.
const joinedAt = performance.now();
const limit = start + Number(values["converge-timeout"]) * 1000;
let minSeen = 0;
for (;;) {
  minSeen = Math.min(...seen);
  if (minSeen >= n || performance.now() > limit) break;
  await new Promise((r) => setTimeout(r, 20));
}
emit({
  event: "converged",
  ms: minSeen >= n ? performance.now() - joinedAt : null,
  minSeen,
  joinMs: joinedAt - start,
});

let mark = { packets: 0, bytes: 0 };
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.trim().split(/\s+/);
  if (cmd === "stats-begin") {
    mark = { packets, bytes };
    emit({ event: "ok", falseDeadBefore: falseDead, falseSuspectBefore: falseSuspect });
    falseDead = falseSuspect = 0;
  } else if (cmd === "stats-end") {
    emit({
      event: "stats",
      packets: packets - mark.packets,
      bytes: bytes - mark.bytes,
      falseDead,
      falseSuspect,
    });
  } else if (cmd === "kill") {
    const i = Number(arg);
    const victim = host(i);
    killed.add(victim);
    // Survivors that hold the victim as a live member (all of them, once converged).
    const survivors = nodes.filter((s, j) =>
      !killed.has(host(j)) && s.membership.hostToMember[victim] !== undefined
    ).length;
    const finished = new Promise((resolve) => {
      watch = { victim, t0: performance.now(), survivors, dead: new Set(), done: resolve };
    });
    nodes[i].leave(); // swim-js's leave sends nothing: a crash, as far as the others know
    await Promise.race([
      finished,
      new Promise((r) =>
        setTimeout(r, 30_000)
      ),
    ]);
    const w = watch;
    watch = undefined;
    emit({
      event: "detected",
      victim,
      firstSuspectMs: w.firstSuspectMs ?? null,
      firstDeadMs: w.firstDeadMs ?? null,
      allDeadMs: w.allDeadMs ?? null,
    });
  } else if (cmd === "quit") {
    break;
  }
}
for (let i = 0; i < n; i++) if (!killed.has(host(i))) nodes[i].leave();
process.exit(0);
