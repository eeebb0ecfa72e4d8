/**
 * The dashboard in a real browser: Debian's Chromium driven by playwright-core.
 *
 * 1. A live 5-member loopback cluster: the page lists 5 alive members; a killed member turns
 *    suspect, then dead; a leaving one turns left. The charts draw it: the timeline's lane of
 *    the killed member goes alive → suspect → dead, the leaver's ends left, and the health,
 *    packets/s and probe RTT charts have points and bars. Screenshot: artifacts/dashboard.png.
 * 2. 200 members from the deterministic simulator, with kills, leaves, restarts and metadata
 *    updates streamed in bursts: every row ends up exactly as the observer's table, and the
 *    timeline shows at most 12 lanes.
 *
 * Before those, without a browser: the history behind the charts stays bounded (fake clock).
 *
 * Skipped (with a message) only when /usr/bin/chromium is missing outside CI; in CI
 * (`CI` set, as `.ci/run` does) a missing browser fails the test.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { createNode, lanConfig, memberlistCodec, type ShoalNode } from "../../mod.ts";
import { Simulator } from "../../src/sim/mod.ts";
import type { MembershipEvent } from "../../src/core/effects.ts";
import type { NodeStats } from "../../src/node/node.ts";
import { newTransportStats } from "../../src/transport/types.ts";
import { type Agent, startAgent } from "../../src/agent/agent.ts";
import { decodeTags, encodeTags } from "../../src/node/tags.ts";
import { ChangeTracker } from "../../src/http/tracker.ts";
import { History, MAX_TIMELINE_ENTRIES, Ring } from "../../src/http/history.ts";
import { newCoreStats, observeRtt, RTT_BUCKETS } from "../../src/core/stats.ts";
import type { ClusterView } from "../../src/http/view.ts";
import { createApi } from "../../src/http/api.ts";
import { type HttpServer, serveHttp } from "../../src/http/server.ts";
import { AgentClient } from "../../src/cli/client.ts";
import type { HistoryJson, StatsEventJson } from "../../src/http/history.ts";
import { FAST } from "../node/helpers.ts";
import { root } from "./helpers.ts";

const CHROMIUM = "/usr/bin/chromium";
const IN_CI = !!process.env.CI && process.env.CI !== "false" && process.env.CI !== "0";
const skip = !existsSync(CHROMIUM) && !IN_CI
  ? `${CHROMIUM} not found (apt-get install chromium); the browser test runs in CI`
  : false;
if (skip) console.log(`skipping the dashboard browser test: ${skip}`);

/** Page-side helpers, installed before the dashboard's own script runs. */
const PAGE_HELPERS = `
window.__shoal = {
  transitions: {},
  rows() {
    return Array.from(document.querySelectorAll("#members tr")).map((tr) => ({
      name: tr.dataset.member,
      state: tr.dataset.state,
      incarnation: tr.querySelector(".inc").textContent,
      meta: tr.querySelector(".meta").textContent,
      hidden: tr.hidden,
    }));
  },
  watch() {
    const record = (muts) => {
      for (const m of muts) {
        const tr = m.target;
        (this.transitions[tr.dataset.member] ||= []).push(tr.dataset.state);
      }
    };
    new MutationObserver(record).observe(document.getElementById("members"), {
      attributes: true, subtree: true, attributeFilter: ["data-state"],
    });
  },
};
`;

type Row = { name: string; state: string; incarnation: string; meta: string; hidden: boolean };
const rows = (page: Page): Promise<Row[]> => page.evaluate("window.__shoal.rows()");
const collapse = (xs: string[]) => xs.filter((x, i) => i === 0 || xs[i - 1] !== x);

async function waitRows(page: Page, predicate: string, timeout = 30_000): Promise<void> {
  await page.waitForFunction(
    `(() => { const rows = window.__shoal.rows(); return ${predicate}; })()`,
    undefined,
    {
      timeout,
      polling: 50,
    },
  );
}

describe("dashboard history (no browser)", () => {
  test("a ring keeps the newest items only", () => {
    const ring = new Ring<number>(3);
    for (let i = 0; i < 10; i++) ring.push(i);
    assert.deepEqual(ring.toArray(), [7, 8, 9]);
    ring.shift();
    ring.push(10);
    assert.deepEqual(ring.toArray(), [8, 9, 10]);
    assert.throws(() => new Ring(0), RangeError);
  });

  test("samples, timeline and RTT window stay bounded to the window", () => {
    const core = newCoreStats();
    const transport = newTransportStats();
    let score = 0;
    const view = {
      name: "h",
      stats: () => ({ core, transport, healthScore: score }) as unknown as NodeStats,
    } as unknown as ClusterView;
    let now = 1_000_000;
    const history = new History(view, now, { windowMs: 10_000, intervalMs: 1000 });
    for (let s = 1; s <= 100; s++) {
      now += 1000;
      transport.packetsIn += 50; // 50/s
      transport.packetsOut += 20 * (s % 2); // 20 and 0, alternately: 20 per 2 s
      score = s % 3;
      observeRtt(core.probeRtt, s <= 90 ? 3 : 0.5); // the last 10 s: 0.5 ms each
      history.sample(now);
    }
    const json = history.toJson(now);
    assert.ok(json.samples.length <= 11, `samples kept: ${json.samples.length}`);
    assert.ok(json.samples.every((s) => s.t >= now - 10_000));
    const last = json.samples.at(-1)!;
    assert.equal(last.packetsInPerSec, 50);
    assert.equal(last.healthScore, 100 % 3);
    assert.equal(json.rtt.counts.length, RTT_BUCKETS.length + 1);
    // The window's probes: the last 10 samples, all ≤ 1 ms; the 3 ms ones are older.
    assert.equal(json.rtt.count, 10);
    assert.equal(json.rtt.counts[0], 10);
    assert.equal(json.rtt.counts.reduce((a, b) => a + b, 0), 10);
    assert.equal(json.rtt.total, 100);
    for (let i = 0; i < MAX_TIMELINE_ENTRIES + 500; i++) {
      history.record(now, `m${i % 50}`, "suspect", "alive", "suspect", 1);
    }
    assert.equal(history.toJson(now).timeline.length, MAX_TIMELINE_ENTRIES);
    assert.equal(history.toJson(now + 10_001).timeline.length, 0, "older than the window");
  });
});

describe("dashboard in Chromium", { skip, timeout: 180_000 }, () => {
  let context: BrowserContext;
  let profile = "";

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required in CI (apt-get install chromium)`);
    profile = mkdtempSync(join(tmpdir(), "shoal-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 720 },
      bypassCSP: true, // the page's CSP forbids eval, which the test's page probes use
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    });
    await context.addInitScript(PAGE_HELPERS);
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  describe("a live 5-member loopback cluster", () => {
    let agent: Agent;
    const nodes: ShoalNode[] = [];
    const slowSuspicion = { ...FAST, suspicionMult: 4 };

    before(async () => {
      agent = await startAgent({
        name: "dash-0",
        bind: "127.0.0.1:0",
        http: "127.0.0.1:0",
        tags: { role: "seed", zone: "a" },
        tune: slowSuspicion,
        healthIntervalMs: 500,
      });
      const seed = `127.0.0.1:${agent.node.address.port}`;
      for (let i = 1; i < 5; i++) {
        nodes.push(
          await createNode({
            name: `dash-${i}`,
            bind: "127.0.0.1:0",
            seeds: [seed],
            config: slowSuspicion,
            meta: encodeTags({ role: i < 3 ? "web" : "db", zone: i % 2 ? "a" : "b" }),
          }),
        );
      }
    });

    after(async () => {
      await agent?.shutdown();
      await Promise.all(nodes.map((n) => n.close()));
    });

    test("the event stream keeps its shape for shoal monitor, plus history and stats", {
      timeout: 30_000,
    }, async () => {
      const client = new AgentClient(`127.0.0.1:${agent.http!.port}`);
      const abort = new AbortController();
      const got: { event: string; data: unknown }[] = [];
      const guard = setTimeout(() => abort.abort(), 20_000);
      try {
        await client.events((event, data) => {
          got.push({ event, data });
          if (event === "stats") abort.abort(); // the first sample after the snapshot
        }, abort.signal);
      } finally {
        clearTimeout(guard);
      }
      const snap = got[0]?.data as {
        self: string;
        members: { name: string }[];
        health: { healthScore: number };
        history: HistoryJson;
      };
      assert.equal(got[0]?.event, "snapshot");
      assert.equal(snap.self, "dash-0");
      assert.ok(snap.members.some((m) => m.name === "dash-0"));
      assert.equal(typeof snap.health.healthScore, "number");
      assert.equal(snap.history.windowMs, 300_000);
      assert.deepEqual(snap.history.rtt.buckets, RTT_BUCKETS);
      const stats = got.find((g) => g.event === "stats")?.data as StatsEventJson | undefined;
      assert.ok(stats, `events: ${got.map((g) => g.event)}`);
      assert.equal(typeof stats.sample.packetsInPerSec, "number");
      assert.equal(stats.rtt.counts.length, RTT_BUCKETS.length + 1);
    });

    test("5 alive; a kill turns suspect then dead; a leave turns left", {
      timeout: 120_000,
    }, async () => {
      const seenByAgent: MembershipEvent[] = [];
      agent.node.onEvent((e) => seenByAgent.push(e));
      const page = await context.newPage();
      try {
        await page.goto(`http://127.0.0.1:${agent.http!.port}/`);
        await waitRows(page, `rows.length === 5 && rows.every((r) => r.state === "alive")`);
        const initial = await rows(page);
        assert.deepEqual(initial.map((r) => r.name), [
          "dash-0",
          "dash-1",
          "dash-2",
          "dash-3",
          "dash-4",
        ]);
        assert.equal(initial[0].meta, "role=seedzone=a");
        assert.equal(await page.textContent("#count-alive"), "5 alive");
        assert.equal(await page.textContent("#self"), "dash-0");
        assert.equal(await page.getAttribute('tr[data-member="dash-0"]', "class"), "self");
        await page.waitForFunction(`document.getElementById("health-score").textContent === "0"`);
        assert.equal(await page.textContent("#conn"), "live");

        // Some history before the episode (samples are taken each second), for the charts.
        const samples = (): Promise<number> =>
          page.evaluate(`Number(document.getElementById("chart-packets").dataset.samples)`);
        await page.waitForFunction(
          `Number(document.getElementById("chart-packets").dataset.samples) >= 6`,
          undefined,
          { timeout: 30_000 },
        );
        await page.evaluate("window.__shoal.watch()");
        const before = seenByAgent.length;
        await nodes[2].close(); // dash-3: killed, no goodbye
        await page.waitForSelector('tr[data-member="dash-3"][data-state="dead"]', {
          timeout: 60_000,
        });
        // What the page showed for dash-3 after the kill: suspect, then dead (last).
        const states = collapse(await page.evaluate(`window.__shoal.transitions["dash-3"]`));
        assert.equal(states.at(-1), "dead", `page states: ${states}`);
        assert.equal(states.at(-2), "suspect", `page states: ${states}`);
        const events = seenByAgent.slice(before).filter((e) => e.member.name === "dash-3")
          .map((e) => e.type);
        assert.deepEqual(events.slice(-2), ["suspect", "dead"], `agent events: ${events}`);
        assert.equal(await page.textContent("#count-dead"), "1 dead");

        await nodes[3].leave(); // dash-4 leaves gracefully
        await page.waitForSelector('tr[data-member="dash-4"][data-state="left"]', {
          timeout: 30_000,
        });
        await waitRows(
          page,
          `rows.filter((r) => r.state === "alive").length === 3 && rows.length === 5`,
        );
        assert.equal(await page.textContent("#count-left"), "1 left");
        // The counts follow the rows on the next render; a member briefly suspected under load
        // moves the alive count for a moment, so wait for the settled text.
        await page.waitForFunction(
          `document.getElementById("count-alive").textContent === "3 alive"`,
          undefined,
          { timeout: 30_000 },
        );

        // The charts. Timeline: dash-3's lane goes alive → suspect → dead, dash-4's ends left.
        const lane = (name: string) =>
          page.evaluate(`Array.from(document.querySelectorAll(
            '#timeline g.lane[data-member="${name}"] rect.seg')).map((r) => ({
              state: r.dataset.state, x: Number(r.getAttribute("x")),
              width: Number(r.getAttribute("width")) }))`) as Promise<
            { state: string; x: number; width: number }[]
          >;
        await page.waitForSelector(
          '#timeline g.lane[data-member="dash-4"] rect.seg[data-state="left"]',
        );
        const dead = await lane("dash-3");
        assert.ok(dead.every((s) => s.width > 0), JSON.stringify(dead));
        const deadStates = collapse(dead.sort((a, b) => a.x - b.x).map((s) => s.state));
        assert.deepEqual(deadStates.slice(-3), ["alive", "suspect", "dead"], `${deadStates}`);
        assert.equal(collapse((await lane("dash-4")).map((s) => s.state)).at(-1), "left");
        const marks: string[] = await page.evaluate(`Array.from(document.querySelectorAll(
          '#timeline g.lane[data-member="dash-3"] circle.mark')).map((c) => c.dataset.type)`);
        assert.ok(marks.includes("suspect") && marks.includes("dead"), `marks: ${marks}`);
        // The server kept the same episode.
        const told = agent.tracker.history()!.timeline.filter((e) => e.member === "dash-3");
        assert.deepEqual(
          collapse(told.map((e) => e.to)).slice(-2),
          ["suspect", "dead"],
          JSON.stringify(told),
        );
        // Line charts: a few samples drawn, packets actually flowing.
        await page.waitForFunction(`(() => {
          const n = (sel) => Number(document.querySelector(sel)?.dataset.points ?? 0);
          return n("#chart-health path.line.health") >= 3 && n("#chart-packets path.line.in") >= 3
            && n("#chart-packets path.line.out") >= 3;
        })()`);
        for (const sel of ["#chart-health path.line", "#chart-packets path.line.in"]) {
          const d = await page.getAttribute(sel, "d");
          assert.match(d ?? "", /^M[\d.]+,[\d.]+([LHV][\d.,]+)+/, `${sel} d=${d}`);
        }
        assert.ok(Number(await page.getAttribute("#chart-packets", "data-max")) > 0);
        // Histogram: one bar per bucket and one above; the cluster's probes are in it.
        const bars: number[] = await page.evaluate(`Array.from(document.querySelectorAll(
          "#chart-rtt rect.bar")).map((r) => Number(r.dataset.count))`);
        assert.equal(bars.length, RTT_BUCKETS.length + 1);
        assert.ok(bars.reduce((a, b) => a + b, 0) > 0, `bars: ${bars}`);
        assert.match((await page.textContent("#rtt-now")) ?? "", /^mean [\d.]+ ms/);

        // A few samples after the episode, so it sits inside the plots rather than at the edge.
        const after = (await samples()) + 3;
        await page.waitForFunction(
          `Number(document.getElementById("chart-packets").dataset.samples) >= ${after}`,
          undefined,
          { timeout: 30_000 },
        );
        mkdirSync(join(root, "artifacts"), { recursive: true });
        await page.screenshot({ path: join(root, "artifacts", "dashboard.png"), fullPage: true });
      } finally {
        await page.close();
      }
    });
  });

  describe("200 members from the simulator", () => {
    let server: HttpServer | undefined;
    let api: ReturnType<typeof createApi> | undefined;
    let tracker: ChangeTracker | undefined;

    after(async () => {
      api?.close();
      await server?.close();
      tracker?.close();
    });

    test("every row matches the observer's table after bursts of changes", {
      timeout: 150_000,
    }, async () => {
      const sim = new Simulator({ seed: 200, config: lanConfig, codec: memberlistCodec });
      for (let i = 0; i < 200; i++) {
        sim.addNode(`m${i}`, { meta: encodeTags({ rack: `r${i % 8}`, idx: String(i) }) });
      }
      assert.ok(sim.runUntil(() => sim.converged(), 120_000), "200 nodes converge");
      const observer = sim.node("m0").swim;
      const listeners = new Set<(e: MembershipEvent) => void>();
      let cursor = sim.events.length;
      const pump = () => {
        for (; cursor < sim.events.length; cursor++) {
          const e = sim.events[cursor];
          const member = observer.member(e.member);
          if (e.observer !== "m0" || !member) continue;
          for (const fn of listeners) fn({ type: e.type, member });
        }
      };
      const view: ClusterView = {
        name: "m0",
        members: () => observer.members(),
        member: (name) => observer.member(name),
        localMember: () => observer.localMember(),
        onEvent: (fn) => {
          listeners.add(fn);
          return () => listeners.delete(fn);
        },
        stats: () =>
          ({
            core: observer.stats,
            transport: newTransportStats(),
            queueDepth: observer.queueDepth,
            internalErrors: 0,
            healthScore: observer.healthScore,
          }) as NodeStats,
        join: () => {
          throw new Error("simulated");
        },
        leave: () => Promise.reject(new Error("simulated")),
      };
      tracker = new ChangeTracker(view);
      api = createApi({ view, tracker, healthIntervalMs: 500 });
      server = await serveHttp({ host: "127.0.0.1", port: 0, handler: api.handle });

      const page = await context.newPage();
      try {
        await page.goto(`http://127.0.0.1:${server.port}/`);
        await waitRows(page, `rows.length === 200 && rows.every((r) => r.state === "alive")`);
        assert.equal(await page.textContent("#total"), "200");

        // Bursts: kills, leaves, restarts and metadata updates, streamed while the page renders.
        for (let i = 10; i < 25; i++) sim.kill(`m${i}`);
        for (let i = 30; i < 40; i++) sim.leave(`m${i}`);
        for (let i = 50; i < 55; i++) sim.updateMeta(`m${i}`, encodeTags({ rack: "moved" }));
        for (let step = 0; step < 40; step++) {
          if (step === 10) { for (let i = 10; i < 15; i++) sim.restart(`m${i}`); }
          sim.runFor(2000);
          pump();
          await new Promise((r) => setTimeout(r, 25));
        }

        const expected = observer.members().map((m) => ({
          name: m.name,
          state: m.state,
          incarnation: String(m.incarnation),
          meta: Object.entries(decodeTags(m.meta) ?? {}).sort().map(([k, v]) => `${k}=${v}`)
            .join(""),
        }));
        const byName = JSON.stringify(Object.fromEntries(expected.map((e) => [e.name, e])));
        const states = new Set(expected.map((e) => e.state));
        assert.ok(states.has("dead") && states.has("left"), `interesting states: ${[...states]}`);
        await waitRows(
          page,
          `rows.length === 200 && rows.every((r) => { const e = (${byName})[r.name];
            return e && e.state === r.state && e.incarnation === r.incarnation && e.meta === r.meta; })`,
          60_000,
        ).catch(async (error) => {
          const got = await rows(page);
          const wrong = got.filter((r) => {
            const e = JSON.parse(byName)[r.name];
            return !e || e.state !== r.state || e.incarnation !== r.incarnation ||
              e.meta !== r.meta;
          });
          throw new Error(`${error}\nrows differing: ${JSON.stringify(wrong.slice(0, 5))}`);
        });
        const count = (s: string) => expected.filter((e) => e.state === s).length;
        for (const s of ["alive", "dead", "left"]) {
          assert.equal(await page.textContent(`#count-${s}`), `${count(s)} ${s}`);
        }
        // The timeline draws the 12 members that changed last, and says how many it leaves out.
        await page.waitForFunction(`document.getElementById("timeline").dataset.lanes === "12"`);
        assert.match((await page.textContent("#timeline-note")) ?? "", /more not shown/);
        // The filter narrows the table without losing rows.
        await page.fill("#filter", "rack=moved");
        await waitRows(page, `rows.filter((r) => !r.hidden).length === 5`);
        mkdirSync(join(root, "artifacts"), { recursive: true });
        await page.fill("#filter", "");
        await page.selectOption("#sort", "state");
        await page.screenshot({ path: join(root, "artifacts", "dashboard-200.png") });
      } finally {
        await page.close();
      }
    });
  });
});
