/**
 * Cache invalidation and "who holds key K" across a serf cluster: three cache members in
 * this process, each holding a few keys, plus (optionally) real serf agents.
 *
 * - `purge KEY` is a serf user event: every member drops KEY, serf agents see it in
 *   `serf monitor` (and their event handlers run).
 * - `who-has KEY` is a serf query: members holding KEY respond, the asker collects.
 *
 *   deno run -A examples/serf/cache.ts                      (or: bun examples/serf/cache.ts)
 *   deno run -A examples/serf/cache.ts 127.0.0.1:7946       join a serf agent's cluster
 *
 * With a serf agent joined, try from its side while this runs (about 20 s):
 *   serf query who-has user:2        serf event purge user:2        serf members
 */
import process from "node:process";
import { createSerf, type Serf } from "../../src/serf/mod.ts";

const seeds = process.argv.slice(2); // serf agents (or shoal members) to join through
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** One cache member: a Map, emptied by `purge` events, asked by `who-has` queries. */
async function cacheMember(name: string, join: string[], keys: string[]): Promise<Serf> {
  const cache = new Map(keys.map((k) => [k, `value of ${k}`]));
  const serf = await createSerf({
    name,
    bind: "127.0.0.1:0",
    seeds: join,
    tags: { role: "cache" },
    preset: "local",
  });
  serf.onEvent((e) => {
    if (e.type === "user" && e.name === "purge") {
      const key = text(e.payload);
      if (cache.delete(key)) console.log(`${name}: purged ${key}`);
    } else if (e.type === "query" && e.name === "who-has") {
      const key = text(e.payload);
      if (cache.has(key)) e.respond(`${name} holds ${key}`);
    }
  });
  return serf;
}

const a = await cacheMember("cache-a", seeds, ["user:1", "user:2"]);
const seed = [`127.0.0.1:${a.node.address.port}`, ...seeds];
const b = await cacheMember("cache-b", seed, ["user:2", "user:3"]);
const c = await cacheMember("cache-c", seed, ["user:3"]);
const members = [a, b, c];
try {
  for (let i = 0; i < 100 && !members.every((m) => m.members().length >= 3 + seeds.length); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`cluster: ${a.members().map((m) => `${m.name}(${m.tags.role ?? ""})`).join(" ")}`);

  const who = async (key: string) => {
    const { acks, responses } = await c.query("who-has", key, { timeout: 1500 }).collect();
    console.log(
      `who-has ${key}: ${acks.length} acks; ${responses.map((r) => text(r.payload)).join(", ")}`,
    );
  };
  await who("user:2");
  a.event("purge", "user:2", { coalesce: false }); // invalidate everywhere
  await new Promise((r) => setTimeout(r, 1000));
  await who("user:2");
  // Only the cache members answer (serf agents tagged otherwise do not even ack).
  const only = await a.query("who-has", "user:3", {
    filterTags: { role: "^cache$" },
    timeout: 1500,
  })
    .collect();
  console.log(`who-has user:3 among role=cache: ${only.responses.map((r) => r.from).join(", ")}`);
  if (seeds.length) await new Promise((r) => setTimeout(r, 15_000)); // time to try serf's CLI
} finally {
  for (const m of members) await m.leave().catch(() => {});
  for (const m of members) await m.close();
}
