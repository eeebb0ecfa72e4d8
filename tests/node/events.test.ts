import { test } from "node:test";
import assert from "node:assert/strict";
import { EventHub } from "../../src/node/events.ts";

test("a subscription keeps every event in order while it keeps up", async () => {
  const hub = new EventHub<number>(8);
  const sub = hub.subscribe();
  for (let i = 0; i < 5; i++) hub.publish(i);
  const got: number[] = [];
  for (let i = 0; i < 5; i++) got.push((await sub.next()).value as number);
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  assert.equal(hub.dropped, 0);
});

test("a subscription that stops reading keeps only the latest events, and drops are counted", async () => {
  const hub = new EventHub<number>(100);
  const slow = hub.subscribe();
  const fast = hub.subscribe();
  const seen: number[] = [];
  for (let i = 0; i < 10_000; i++) {
    hub.publish(i);
    seen.push((await fast.next()).value as number);
  }
  assert.equal(seen.length, 10_000, "the reading subscription lost nothing");
  assert.equal(hub.dropped, 9_900);
  const kept: number[] = [];
  hub.close();
  for await (const v of slow) kept.push(v);
  assert.equal(kept.length, 100);
  assert.deepEqual([kept[0], kept[99]], [9_900, 9_999]);
});
