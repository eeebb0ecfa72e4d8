import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createNode, type MemberView, type ShoalNode } from "../../mod.ts";
import { FAST, startCluster, waitFor } from "./helpers.ts";

/** Read views into `into` until the iterator ends. */
async function collect(it: AsyncIterable<MemberView>, into: MemberView[]): Promise<void> {
  for await (const v of it) into.push(v);
}

describe("ShoalNode.views()", () => {
  test("a few settled views while members join; a crash is reported within maxDelay of its detection", async () => {
    const first = await createNode({ name: "v0", bind: "127.0.0.1:0", config: FAST });
    const nodes: ShoalNode[] = [first];
    try {
      const settle = 300, maxDelay = 1500;
      const views: MemberView[] = [];
      const reading = collect(first.views({ settle, maxDelay }), views);
      const deadAt = new Map<string, number>();
      first.onEvent((e) => {
        if (e.type === "dead") deadAt.set(e.member.name, performance.now());
      });
      const seed = `127.0.0.1:${first.address.port}`;
      for (let i = 1; i < 6; i++) {
        nodes.push(
          await createNode({ name: `v${i}`, bind: "127.0.0.1:0", seeds: [seed], config: FAST }),
        );
      }
      await waitFor(() => views.at(-1)?.members.length === 6, 10_000, "a view of six");
      assert.deepEqual(views[0].members.map((m) => m.name), ["v0"], "the first view at once");
      assert.ok(views.length <= 4, `${views.length} views for 5 joins`);
      assert.deepEqual(views.flatMap((v) => v.added).sort(), ["v0", "v1", "v2", "v3", "v4", "v5"]);
      const before = views.length;
      await nodes[5].close();
      await waitFor(() => views.some((v) => v.removed.includes("v5")), 20_000, "v5 removed");
      const view = views.find((v) => v.removed.includes("v5"))!;
      const delay = view.at - deadAt.get("v5")!;
      assert.ok(delay >= 0 && delay <= maxDelay + 100, `dead → view ${delay.toFixed(0)} ms`);
      assert.equal(views.length - before, 1, "one view for the crash: its suspicion made none");
      assert.deepEqual(view.members.map((m) => m.name), ["v0", "v1", "v2", "v3", "v4"]);
      await first.close();
      await reading; // the iterator ends on close
    } finally {
      for (const n of nodes) await n.close();
    }
  });

  test("subscriptions are independent; return() ends one, a slow reader gets the latest view", async () => {
    const nodes = await startCluster(3, "w");
    try {
      const a = nodes[0].views({ settle: 100, maxDelay: 500 });
      const slow = nodes[0].views({ settle: 100, maxDelay: 500 });
      const settled = nodes[0].views({ settle: 100, maxDelay: 500, initial: "settled" });
      const firstA = await a.next();
      assert.equal(firstA.done, false);
      await waitFor(() => nodes[0].members("alive").length === 3, 10_000, "three alive");
      await new Promise((r) => setTimeout(r, 700));
      // The slow reader never read: its first view, taken now, already holds everyone.
      const s = (await slow.next()).value as MemberView;
      assert.deepEqual([s.seq, s.members.length], [0, 3]);
      const t = (await settled.next()).value as MemberView;
      assert.deepEqual([t.seq, t.members.length], [0, 3], "settled first view holds the cluster");
      // A pending read ends when the subscription is returned (its timer cleared).
      const waiting = nodes[0].views({ settle: 60_000, maxDelay: 60_000, initial: "settled" });
      const pending = waiting.next();
      await waiting.return!();
      assert.equal((await pending).done, true);
      assert.equal((await waiting.next()).done, true);
      await a.return!();
      assert.equal((await a.next()).done, true);
      assert.throws(() => nodes[0].views({ settle: 10, maxDelay: 5 }), RangeError);
      const after = nodes[0].views();
      await nodes[0].close();
      assert.equal((await slow.next()).done, true);
      assert.equal((await after.next()).done, true, "a view due at close is not delivered");
      const late = nodes[0].views();
      assert.equal((await late.next()).done, true, "a subscription on a closed node ends");
    } finally {
      for (const n of nodes) await n.close();
    }
  });
});
