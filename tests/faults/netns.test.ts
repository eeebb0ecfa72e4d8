/**
 * Faults on real sockets: shoal members (LAN timing, the default preset) run in child
 * processes inside network namespaces this test creates, and nftables rules in each namespace
 * drop packets (`tc netem` does not exist on these machines). Three scenarios, each in its own
 * namespace, run at the same time (`SHOAL_FAULTS_SEQUENTIAL=1` runs them one after another):
 *
 * 1. 20 % random loss of UDP and TCP among 20 members for 2 minutes: no false death; then a
 *    member's process is killed and every survivor declares it dead.
 * 2. A 50/50 partition of 10 members for 60 s, then healed: one view again.
 * 3. A member frozen with SIGSTOP for 5 s: suspected, refutes, never declared dead.
 * 4. A member losing 80 % of its ingress among 20 for 2 minutes: flap damping keeps the others
 *    to at most 10 events each about it (about 85 undamped), no healthy member is declared
 *    dead, and a kill is still detected by all.
 *
 * Needs root, `ip` and `nft` (CI installs nftables); elsewhere the tests skip with the reason.
 * Figures go to stdout and to `artifacts/faults-<runtime>.json`.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeName } from "../../mod.ts";
import { cleanupAll, netnsUnsupported } from "./_netns.ts";
import {
  type BadLinkResult,
  badLinkScenario,
  type LossResult,
  lossScenario,
  type PartitionResult,
  partitionScenario,
  type StallResult,
  stallScenario,
} from "./_scenarios.ts";

const rt = runtimeName();
const skip = netnsUnsupported();
if (skip) console.log(`faults/netns.test.ts: skipped on ${rt}: ${skip}`);

const log = (line: string) => console.log(`[faults ${rt}] ${line}`);
const figures: Record<string, unknown> = { runtime: rt, date: new Date().toISOString() };

function record(name: string, result: unknown): void {
  figures[name] = result;
  log(`${name}: ${JSON.stringify(result)}`);
  try {
    const dir = fileURLToPath(new URL("../../artifacts/", import.meta.url));
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}faults-${rt}.json`, JSON.stringify(figures, null, 2) + "\n");
  } catch { /* figures are also on stdout */ }
}

interface Runs {
  loss: Promise<LossResult>;
  partition: Promise<PartitionResult>;
  stall: Promise<StallResult>;
  badLink: Promise<BadLinkResult>;
}
let runs: Runs | undefined;

/** Start all three scenarios (once); each test awaits its own. */
function scenarios(): Runs {
  if (runs) return runs;
  const loss = () =>
    lossScenario({ members: 20, lossPct: 20, lossMs: 120_000, detectBoundMs: 90_000, log });
  const partition = () =>
    partitionScenario({ members: 10, splitMs: 60_000, healBoundMs: 120_000, log });
  const stall = () => stallScenario({ members: 20, stopMs: 5000, watchMs: 15_000, log });
  const badLink = () =>
    badLinkScenario({ members: 20, lossPct: 80, linkMs: 120_000, detectBoundMs: 90_000, log });
  if (process.env.SHOAL_FAULTS_SEQUENTIAL === "1") {
    const l = loss();
    const p = l.catch(() => {}).then(partition);
    const s = p.catch(() => {}).then(stall);
    const b = s.catch(() => {}).then(badLink);
    runs = { loss: l, partition: p, stall: s, badLink: b };
  } else {
    runs = { loss: loss(), partition: partition(), stall: stall(), badLink: badLink() };
  }
  // Each test awaits its own result; this keeps an early failure from being "unhandled".
  for (const p of Object.values(runs)) p.catch(() => {});
  return runs;
}

after(async () => {
  await cleanupAll();
});

// Sequentially the last test waits for all four (about 2.5 + 3 + 0.5 + 3.5 minutes at worst).
const LONG = { timeout: 720_000, skip: skip ?? false };

test(
  `${rt}: 20 % loss of UDP and TCP among 20 members for 2 min: no false death; a kill is detected by all`,
  LONG,
  async () => {
    const r = await scenarios().loss;
    record("loss", r);
    assert.deepEqual(r.hostErrors, []);
    assert.ok(
      r.measuredLossPct >= 15 && r.measuredLossPct <= 25,
      `loss was ${r.measuredLossPct} %`,
    );
    assert.deepEqual(
      r.falseDeaths.map((e) => `${e.observer} declared ${e.member} dead`),
      [],
      "a live member was declared dead",
    );
    assert.deepEqual(r.undetectedBy, [], "survivors that never declared the killed member dead");
    assert.ok(r.allDeadMs !== undefined);
  },
);

test(
  `${rt}: a 50/50 partition of 10 members for 60 s, healed, gives one view again`,
  LONG,
  async () => {
    const r = await scenarios().partition;
    record("partition", r);
    assert.deepEqual(r.hostErrors, []);
    // The split was real: every member suspected (or buried) every member across the cut.
    assert.equal(r.crossSuspected, r.crossPairs, "cross pairs that never suspected each other");
    assert.deepEqual(
      r.sameSideDeaths.map((e) => `${e.observer} declared ${e.member} dead`),
      [],
      "a member on its own side of the cut was declared dead",
    );
    assert.deepEqual(r.notHealed, [], "not one view after the heal");
    assert.ok(r.healMs !== undefined);
  },
);

test(
  `${rt}: a member frozen (SIGSTOP) for 5 s refutes and is never declared dead`,
  LONG,
  async () => {
    const r = await scenarios().stall;
    record("stall", r);
    assert.deepEqual(r.hostErrors, []);
    assert.ok(r.suspectedBy > 0, "the frozen member was never suspected (the freeze did not bite)");
    assert.deepEqual(
      r.deaths.map((e) => `${e.observer} declared ${e.member} dead`),
      [],
      "a member was declared dead",
    );
    assert.ok(r.refutedMs !== undefined, "the refutation did not reach every observer");
    assert.ok(r.finalStates.every((s) => s.includes(":alive/")), `final: ${r.finalStates}`);
  },
);

test(
  `${rt}: a member losing 80 % of its ingress among 20 for 2 min: at most 10 events per observer about it`,
  LONG,
  async () => {
    const r = await scenarios().badLink;
    record("badLink", r);
    assert.deepEqual(r.hostErrors, []);
    assert.ok(
      r.measuredLossPct >= 70 && r.measuredLossPct <= 90,
      `loss was ${r.measuredLossPct} %`,
    );
    // The link bit: the member was suspected (undamped, each observer sees about 85 events).
    assert.ok((r.byType.suspect ?? 0) > 0, `events: ${JSON.stringify(r.byType)}`);
    assert.ok(r.eventsPerObserver.max <= 10, `events per observer: ${JSON.stringify(r)}`);
    assert.deepEqual(
      r.falseDeaths.map((e) => `${e.observer} declared ${e.member} dead`),
      [],
      "a healthy member was declared dead",
    );
    assert.deepEqual(r.undetectedBy, [], "survivors that never declared the killed member dead");
  },
);
