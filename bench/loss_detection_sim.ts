/**
 * bench/loss_detection.ts in the simulator (virtual time): `--members` members at the LAN
 * preset with streams (TCP fallback probe, push/pull), then `--loss` random loss of
 * datagrams (streams pay it as TCP-like latency); after `--warm` s, `--kills` members are
 * crashed `--gap` s apart. Per seed and kill: kill → first suspicion, first death, every
 * survivor agrees; false deaths over the whole loss period; and the members' local health
 * scores, sampled every second (how often Lifeguard's awareness is above 0 under this loss).
 *
 *   deno run -A bench/loss_detection_sim.ts [--seeds 10] [--members 20] [--loss 20] [--kills 5]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { resolveConfig } from "../src/core/config.ts";
import { Simulator } from "../src/sim/simulator.ts";
import { memberlistCodec as codec } from "../src/wire/codec.ts";

const { values } = parseArgs({
  options: {
    seeds: { type: "string", default: "10" },
    members: { type: "string", default: "20" },
    loss: { type: "string", default: "20" },
    kills: { type: "string", default: "5" },
    warm: { type: "string", default: "30" },
    gap: { type: "string", default: "20" },
    tail: { type: "string", default: "30" },
  },
});
const n = Number(values.members);
const loss = Number(values.loss) / 100;
const kills = Number(values.kills);
const warmMs = Number(values.warm) * 1000;
const gapMs = Number(values.gap) * 1000;
const tailMs = Number(values.tail) * 1000;

/** One kill, in ms from the kill (Infinity: not within 60 s). */
interface Kill {
  readonly suspect: number;
  readonly dead: number;
  readonly all: number;
}

function runSeed(seed: number): { kills: Kill[]; falseDead: number; scores: number[] } {
  const sim = new Simulator({
    seed,
    config: resolveConfig("lan"),
    codec,
    streams: true,
    faults: { minDelay: 1, maxDelay: 2 },
  });
  sim.addNodes(n);
  sim.runUntil(() => sim.converged(), 60_000);
  sim.runFor(10_000);
  sim.network.setFaults({ loss });
  const lossAt = sim.clock.now();
  const scores: number[] = [];
  const sample = (ms: number) => {
    for (let t = 0; t < ms; t += 1000) {
      sim.runFor(Math.min(1000, ms - t));
      for (const x of sim.running()) scores.push(x.swim.healthScore);
    }
  };
  sample(warmMs);
  const out: Kill[] = [];
  const killedAt = new Map<string, number>();
  for (let k = 0; k < kills; k++) {
    const victim = `n${n - 1 - k}`;
    sim.kill(victim);
    const t0 = sim.clock.now();
    killedAt.set(victim, t0);
    sim.runUntil(
      () => sim.running().every((x) => x.swim.member(victim)?.state === "dead"),
      60_000,
      10,
    );
    const about = sim.events.filter((e) => e.member === victim && e.at >= t0);
    const first = (type: string) => about.find((e) => e.type === type)?.at ?? Infinity;
    const survivors = sim.running().map((x) => x.name);
    const deadAt = survivors.map((s) =>
      about.find((e) => e.observer === s && e.type === "dead")?.at ?? Infinity
    );
    out.push({
      suspect: first("suspect") - t0,
      dead: first("dead") - t0,
      all: Math.max(...deadAt) - t0,
    });
    sample(Math.max(0, t0 + gapMs - sim.clock.now()));
  }
  sample(tailMs);
  const falseDead = sim.events.filter((e) =>
    e.at >= lossAt && e.type === "dead" &&
    (!killedAt.has(e.member) || e.at < killedAt.get(e.member)!)
  ).length;
  return { kills: out, falseDead, scores };
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
};
const sec = (ms: number) => Number.isFinite(ms) ? (ms / 1000).toFixed(2) : "never";
const started = performance.now();
const all: Kill[] = [];
let falseDead = 0;
const scores: number[] = [];
for (let seed = 1; seed <= Number(values.seeds); seed++) {
  const r = runSeed(seed);
  all.push(...r.kills);
  falseDead += r.falseDead;
  scores.push(...r.scores);
  console.error(
    `seed ${seed}: all agree ${
      r.kills.map((k) => sec(k.all)).join(", ")
    } s; false deaths ${r.falseDead}`,
  );
}
// A victim already suspected at the kill gets no new suspicion event: left out of that row.
const row = (name: string, all: number[]) => {
  const xs = all.filter(Number.isFinite);
  const out = all.length - xs.length;
  return `| ${name}${out ? ` (${out} without)` : ""} | ${sec(q(xs, 0.5))} | ${sec(q(xs, 0.1))}–${
    sec(q(xs, 0.9))
  } | ${sec(Math.max(...xs))} |`;
};
console.log(
  `\nSimulator: ${n} members, LAN preset, ${values.loss} % loss, ${all.length} kills over ${values.seeds} seeds (${
    ((performance.now() - started) / 1000).toFixed(0)
  } s)\n`,
);
console.log("| kill → | median, s | p10–p90, s | max, s |\n|---|---:|---:|---:|");
console.log(row("first suspicion", all.map((k) => k.suspect)));
console.log(row("first death", all.map((k) => k.dead)));
console.log(row("every survivor agrees", all.map((k) => k.all)));
const above = scores.filter((s) => s > 0).length / scores.length;
console.log(
  `\nfalse deaths over the loss: ${falseDead}; health score > 0 in ${
    (above * 100).toFixed(1)
  } % of samples (mean ${(scores.reduce((a, b) => a + b, 0) / scores.length).toFixed(2)})`,
);
