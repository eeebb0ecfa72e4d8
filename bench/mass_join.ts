/**
 * A mass join in the simulator: n members start `--spacing` ms apart, all through the first,
 * with the cluster benchmark's timing (probe 200 ms, gossip 50 ms, periodic push/pull and
 * re-announce off) or, with `--timing lan`, the defaults users run (`resolveConfig("lan")`);
 * `--streams` gives the members streams (join by push/pull, as on real sockets). Prints what the join costs — datagrams and bytes per member in the first
 * `--window` ms — how long until every member sees every other, and how many pairs never met.
 * Virtual time: the figures are deterministic for a seed.
 *
 *   deno run -A bench/mass_join.ts [--sizes 50,100,200,400] [--spacing 5] [--seeds 1,2,3]
 *                                  [--timing bench|lan] [--streams] [--window 5000] [--limit 60000]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { mergeRows } from "./_results.ts";
import { createMemberlistCodec, resolveConfig } from "../mod.ts";
import { Simulator } from "../src/sim/mod.ts";
import { SHOAL_FAST } from "./cluster/timing.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sizes: { type: "string", default: "50,100,200,400" },
    spacing: { type: "string", default: "5" },
    seeds: { type: "string", default: "1,2,3" },
    window: { type: "string", default: "5000" },
    limit: { type: "string", default: "60000" },
    timing: { type: "string", default: "bench" },
    streams: { type: "boolean", default: false },
    // Merge the rows into this JSON file (bench/scale_plots.ts reads bench/results/mass_join.json).
    json: { type: "string" },
  },
});
if (values.timing !== "bench" && values.timing !== "lan") {
  throw new Error(`--timing must be bench or lan, not ${values.timing}`);
}

const config = values.timing === "lan" ? resolveConfig("lan") : resolveConfig("lan", SHOAL_FAST);
const spacing = Number(values.spacing);
const window = Number(values.window);
const limit = Number(values.limit);

interface Run {
  convergedMs: number | null;
  missingPairs: number;
  packets: number;
  bytes: number;
  suspicions: number;
}

function run(n: number, seed: number): Run {
  const sim = new Simulator({
    seed,
    config,
    codec: createMemberlistCodec({ compress: true }),
    streams: values.streams,
  });
  for (let i = 0; i < n; i++) {
    sim.addNode(`n${i}`);
    sim.runFor(spacing);
  }
  const lastStart = sim.clock.now();
  let convergedMs: number | null = null;
  let counted = false;
  let packets = 0, bytes = 0;
  const count = () => {
    for (const node of sim.nodes) {
      packets += sim.transportStats(node.name).packetsOut;
      bytes += sim.transportStats(node.name).bytesOut;
    }
    counted = true;
  };
  while (sim.clock.now() < lastStart + limit) {
    if (convergedMs === null && sim.converged()) convergedMs = sim.clock.now() - lastStart;
    if (!counted && sim.clock.now() >= window) count();
    if (convergedMs !== null && counted) break;
    sim.runFor(10);
  }
  if (!counted) count();
  let missingPairs = 0;
  for (const node of sim.nodes) {
    const seen = node.swim.members().filter((m) => m.state === "alive").length;
    missingPairs += n - seen;
  }
  const suspicions = sim.events.filter((e) => e.type === "suspect").length;
  return { convergedMs, missingPairs, packets: packets / n, bytes: bytes / n, suspicions };
}

const seeds = values.seeds.split(",").map(Number);
console.log(
  `Mass join in the simulator: members started ${spacing} ms apart through the first; ` +
    `medians over seeds ${seeds.join(", ")}; traffic counted over the first ${window} ms.\n`,
);
console.log(
  `| n | converged after the last start, ms | pairs never met after ${
    limit / 1000
  } s | datagrams per member | KB per member | suspicions |`,
);
console.log("|---:|---:|---:|---:|---:|---:|");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const n of values.sizes.split(",").map(Number)) {
  const runs = seeds.map((seed) => run(n, seed));
  const converged = runs.filter((r) => r.convergedMs !== null).map((r) => r.convergedMs!);
  const conv = converged.length === runs.length
    ? String(median(converged))
    : `${runs.length - converged.length} of ${runs.length} never`;
  if (values.json) {
    mergeRows(values.json, ["n", "timing", "spacing", "streams"], [{
      n,
      timing: values.timing,
      spacing,
      streams: values.streams,
      seeds,
      convergedMs: converged.length === runs.length ? median(converged) : null,
      missingPairs: runs.map((r) => r.missingPairs),
      datagramsPerMember: median(runs.map((r) => r.packets)),
      measured: new Date().toISOString(),
    }]);
  }
  console.log(
    `| ${n} | ${conv} | ${runs.map((r) => r.missingPairs).join(", ")} | ${
      median(runs.map((r) => r.packets)).toFixed(0)
    } | ${(median(runs.map((r) => r.bytes)) / 1024).toFixed(1)} | ${
      median(runs.map((r) => r.suspicions))
    } |`,
  );
}
