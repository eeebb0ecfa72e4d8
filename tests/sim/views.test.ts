import { test } from "node:test";
import assert from "node:assert/strict";
import {
  createMemberlistCodec,
  lanConfig,
  type Member,
  type MemberView,
  ViewCoalescer,
} from "../../mod.ts";
import { Simulator } from "../../src/sim/mod.ts";
import { measureViews } from "../../bench/views.ts";

const member = (
  name: string,
  state: Member["state"] = "alive",
  meta: number[] = [],
): Member => ({
  name,
  address: "10.0.0.1",
  port: 7946,
  state,
  incarnation: 1,
  meta: new Uint8Array(meta),
});

/** Drive a coalescer as a host would: a virtual timer, views taken as soon as due. */
class Host {
  readonly views: MemberView[] = [];
  readonly coalescer: ViewCoalescer;
  #timers: number[] = [];
  armed = 0;
  constructor(members: Member[], options: ConstructorParameters<typeof ViewCoalescer>[1]) {
    this.coalescer = new ViewCoalescer(members, options, 0);
    this.#step(this.coalescer.poll(0), 0);
  }
  observe(m: Member, now: number): void {
    this.runUntil(now);
    this.#step(this.coalescer.observe(m, now), now);
  }
  runUntil(now: number): void {
    this.#timers.sort((a, b) => a - b);
    while (this.#timers.length && this.#timers[0] <= now) {
      const at = this.#timers.shift()!;
      this.#step(this.coalescer.poll(at), at);
    }
  }
  #step(at: number | undefined, now: number): void {
    if (at !== undefined) {
      this.#timers.push(at);
      this.armed = Math.max(this.armed, this.#timers.length);
    }
    if (this.coalescer.due) {
      const v = this.coalescer.take(now);
      if (v) this.views.push(v);
    }
  }
}

test("views come once changes have been quiet for settle ms", () => {
  const h = new Host([member("a")], { settle: 1000, maxDelay: 5000 });
  assert.deepEqual(h.views.map((v) => v.added), [["a"]], "the first view at once");
  h.observe(member("b"), 100);
  h.observe(member("c"), 600);
  h.runUntil(1599);
  assert.equal(h.views.length, 1, "not before 1 s of quiet");
  h.runUntil(1600);
  assert.equal(h.views.length, 2);
  const v = h.views[1];
  assert.deepEqual([v.seq, v.at, v.added, v.changes], [1, 1600, ["b", "c"], 2]);
  assert.deepEqual(v.members.map((m) => m.name), ["a", "b", "c"]);
});

test("while changes keep coming, a view comes maxDelay after the first one it holds back", () => {
  const h = new Host([member("a")], { settle: 1000, maxDelay: 5000 });
  for (let t = 100, i = 0; t <= 20_000; t += 200, i++) h.observe(member(`m${i}`), t);
  h.runUntil(30_000);
  assert.deepEqual(h.views.map((v) => v.at), [0, 5100, 10_100, 15_100, 20_100]);
  assert.equal(h.armed, 1, "at most one timer outstanding");
  assert.equal(h.views.reduce((n, v) => n + v.added.length, 0), 101);
});

test("suspicion is no change by default, but is one for a view of alive members", () => {
  const start = [member("a"), member("b")];
  const all = new Host(start, { settle: 1000 });
  const alive = new Host(start, { settle: 1000, states: ["alive"] });
  for (const h of [all, alive]) {
    h.observe(member("b", "suspect"), 100);
    h.runUntil(5000);
  }
  assert.equal(all.views.length, 1, "suspect stays in the default view");
  assert.deepEqual(alive.views.map((v) => v.removed), [[], ["b"]]);
  // A refutation within settle cancels out: no view that would equal the previous one.
  const h = new Host(start, { settle: 1000, states: ["alive"] });
  h.observe(member("b", "suspect"), 100);
  h.observe(member("b", "alive"), 500);
  h.observe(member("x"), 600);
  h.observe(member("x", "dead"), 700);
  h.runUntil(5000);
  assert.equal(h.views.length, 1);
});

test("metadata and death are changes; state and incarnation moves within the view are not", () => {
  const h = new Host([member("a"), member("b")], { settle: 500 });
  h.observe({ ...member("b", "suspect"), incarnation: 2 }, 100);
  h.runUntil(1000);
  h.observe(member("b", "alive", [1]), 2000);
  h.runUntil(3000);
  h.observe(member("b", "dead", [1]), 4000);
  h.runUntil(5000);
  assert.deepEqual(
    h.views.map((v) => [v.at, v.updated, v.removed]),
    [[0, [], []], [2500, ["b"], []], [4500, [], ["b"]]],
  );
  assert.deepEqual(h.views[1].members.map((m) => [...m.meta]), [[], [1]]);
});

test("initial: settled holds the first view until the membership is quiet", () => {
  const h = new Host([member("a")], { settle: 1000, maxDelay: 3000, initial: "settled" });
  assert.equal(h.views.length, 0);
  h.observe(member("b"), 500);
  h.runUntil(10_000);
  assert.deepEqual(h.views.map((v) => [v.seq, v.at, v.added]), [[0, 1500, ["a", "b"]]]);
});

test("bad settings are refused", () => {
  assert.throws(() => new ViewCoalescer([], { settle: -1 }, 0), RangeError);
  assert.throws(() => new ViewCoalescer([], { settle: 2000, maxDelay: 1000 }, 0), RangeError);
  assert.throws(() => new ViewCoalescer([], { maxDelay: Infinity }, 0), RangeError);
});

test("watching views changes nothing the simulated nodes do", () => {
  const run = (watch: boolean) => {
    const sim = new Simulator({ seed: 5, config: lanConfig, codec: createMemberlistCodec() });
    let views = 0;
    if (watch) sim.watchViews({ settle: 500, maxDelay: 2000 }, () => views++);
    sim.addNodes(20);
    sim.runFor(5000);
    sim.kill("n3");
    sim.runFor(30_000);
    return { events: JSON.stringify(sim.events), views };
  };
  const plain = run(false), watched = run(true);
  assert.equal(watched.events, plain.events);
  assert.ok(watched.views > 20 && watched.views < 20 * 8, `${watched.views} views`);
});

test("200 members 100 ms apart: a few settled views each, deaths reported within maxDelay", () => {
  const settings = [{ settle: 1000, maxDelay: 5000 }, { settle: 2000, maxDelay: 10_000 }];
  // 100 ms apart: the starts last 20 s, so the first crash is detected while joins still
  // change every view.
  const run = measureViews(200, settings, { seed: 1, spacing: 100 });
  for (const f of run.figures) {
    const label = `settle ${f.options.settle}, maxDelay ${f.options.maxDelay}`;
    assert.ok(f.rawPerMember.mean >= 150, `${label}: raw changes ${f.rawPerMember.mean}`);
    assert.ok(f.viewsPerMember.max <= 8, `${label}: views per member ${f.viewsPerMember.max}`);
    assert.equal(f.incomplete, 0, `${label}: every last view holds every member`);
    // Members started after the first crash never showed the crashed member in a view.
    for (const [c, least] of [[f.crashDuring, 20], [f.crash, 198]] as const) {
      assert.ok(c.observers >= least, `${label}: ${c.observers} saw the death`);
      assert.equal(c.reported, c.observers, `${label}: every view dropped the dead member`);
      assert.ok(c.maxDelayMs <= f.options.maxDelay!, `${label}: ${c.maxDelayMs} ms`);
    }
    assert.equal(f.crash.maxDelayMs, f.options.settle, `${label}: quiet, so after settle`);
    console.log(
      `${label}: views per member ${
        f.viewsPerMember.mean.toFixed(1)
      } (max ${f.viewsPerMember.max}) ` +
        `for ${
          f.rawPerMember.mean.toFixed(0)
        } raw changes; dead → view ${f.crashDuring.maxDelayMs} ms ` +
        `(during the starts), ${f.crash.maxDelayMs} ms (after)`,
    );
  }
});
