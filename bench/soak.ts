/**
 * Soaks on real sockets in network namespaces (root, `ip` and `nft` needed; not run in CI):
 * longer versions of tests/faults/netns.test.ts.
 *
 *   deno run -A bench/soak.ts [--loss-minutes 10] [--churn-minutes 30] [--badlink-minutes 10]
 *                             [--members 20]
 *   bun bench/soak.ts --loss-minutes 1 --churn-minutes 2       # a short one
 *
 * - loss: `--loss-pct` (20) % of UDP and TCP dropped among `--members` members (LAN timing) for
 *   `--loss-minutes`, then a member is killed: false deaths and the time to detection by all.
 * - churn: every `--churn-every` s (10) a random member is closed without leaving and started
 *   again `--churn-down` s (15) later under the same name (with `--churn-loss-pct`, 0, loss on
 *   top), for `--churn-minutes`: false deaths, detection times and the time to one view after.
 *
 * - bad link: one member loses `--badlink-pct` (80) % of its ingress for `--badlink-minutes`,
 *   run twice at once in two namespaces, with flap damping (the default) and without
 *   (`flapDamping: null`): events per observer about it, false deaths, then a kill's detection.
 *
 * The soaks run one after the other; 0 minutes skips one. Prints one JSON object each.
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { runtimeName } from "../mod.ts";
import { cleanupAll, netnsUnsupported } from "../tests/faults/_netns.ts";
import { badLinkScenario, churnScenario, lossScenario } from "../tests/faults/_scenarios.ts";

const { values } = parseArgs({
  options: {
    "members": { type: "string", default: "20" },
    "loss-minutes": { type: "string", default: "10" },
    "loss-pct": { type: "string", default: "20" },
    "churn-minutes": { type: "string", default: "30" },
    "churn-every": { type: "string", default: "10" },
    "churn-down": { type: "string", default: "15" },
    "churn-loss-pct": { type: "string", default: "0" },
    "badlink-minutes": { type: "string", default: "10" },
    "badlink-pct": { type: "string", default: "80" },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);
const log = (line: string) => console.error(`${new Date().toISOString().slice(11, 19)} ${line}`);

const why = netnsUnsupported();
if (why) {
  console.error(`soak: cannot run here: ${why}`);
  process.exit(2);
}
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return s.length ? { n: s.length, min: s[0], p50: q(0.5), p90: q(0.9), max: s.at(-1) } : { n: 0 };
};

try {
  if (num("loss-minutes") > 0) {
    const r = await lossScenario({
      members: num("members"),
      lossPct: num("loss-pct"),
      lossMs: num("loss-minutes") * 60_000,
      detectBoundMs: 120_000,
      tag: "soakloss",
      log,
    });
    console.log(JSON.stringify({ soak: "loss", runtime: runtimeName(), ...r }));
  }
  if (num("churn-minutes") > 0) {
    const r = await churnScenario({
      members: num("members"),
      durationMs: num("churn-minutes") * 60_000,
      everyMs: num("churn-every") * 1000,
      downMs: num("churn-down") * 1000,
      lossPct: num("churn-loss-pct"),
      settleBoundMs: 120_000,
      tag: "soakchurn",
      log,
    });
    console.log(
      JSON.stringify({
        soak: "churn",
        runtime: runtimeName(),
        ...r,
        detectionMs: stats(r.detectionMs),
      }),
    );
  }
  if (num("badlink-minutes") > 0) {
    const run = (damped: boolean) =>
      badLinkScenario({
        members: num("members"),
        lossPct: num("badlink-pct"),
        linkMs: num("badlink-minutes") * 60_000,
        detectBoundMs: 120_000,
        config: damped ? undefined : { flapDamping: null },
        tag: damped ? "soakbad" : "soakbadraw",
        log: (line) => log(`${damped ? "damped" : "undamped"} ${line}`),
      });
    const [damped, undamped] = await Promise.all([run(true), run(false)]);
    for (const [name, r] of [["damped", damped], ["undamped", undamped]] as const) {
      console.log(
        JSON.stringify({ soak: "badlink", flapDamping: name, runtime: runtimeName(), ...r }),
      );
    }
  }
} finally {
  await cleanupAll();
}
