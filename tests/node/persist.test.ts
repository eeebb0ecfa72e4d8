import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNode, MemoryNetwork } from "../../mod.ts";
import { startingIncarnation } from "../../src/node/persist.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test("the data directory keeps name and incarnation; a restart outranks its previous life", {
  timeout: 20_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), "shoal-"));
  dirs.push(dir);
  const net = new MemoryNetwork();
  const transport = net.binder();
  const streams = false as const;
  const first = await createNode({
    name: "keeper",
    bind: "10.9.0.1:7946",
    dataDir: dir,
    transport,
    streams,
  });
  const inc1 = first.localMember().incarnation;
  assert.ok(inc1 >= Math.floor(Date.now() / 1000) - 5, "incarnation is seeded from the clock");
  await first.updateMeta(new Uint8Array([1]), 100); // bumps the incarnation
  await first.close();
  const saved = JSON.parse(await readFile(join(dir, "shoal-state.json"), "utf8"));
  assert.deepEqual(saved, { name: "keeper", incarnation: inc1 + 1 });

  // Same directory, no name given: the name is remembered, the incarnation goes up.
  const second = await createNode({ bind: "10.9.0.1:7946", dataDir: dir, transport, streams });
  assert.equal(second.name, "keeper");
  assert.ok(second.localMember().incarnation > inc1 + 1);
  await second.close();

  // Another name on the same directory is refused.
  await assert.rejects(
    createNode({ name: "other", bind: "10.9.0.1:7946", dataDir: dir, transport, streams }),
    /belongs to node "keeper"/,
  );
  // A corrupt state file is reported, not ignored.
  await writeFile(join(dir, "shoal-state.json"), "{}");
  await assert.rejects(
    createNode({ bind: "10.9.0.1:7946", dataDir: dir, transport, streams }),
    /not a shoal state file/,
  );
});

test("starting incarnation: the clock in seconds, above what was persisted", () => {
  assert.equal(startingIncarnation(1_700_000_000_500), 1_700_000_000);
  assert.equal(
    startingIncarnation(1_700_000_000_500, { name: "a", incarnation: 1_800_000_000 }),
    1_800_000_001,
  );
  assert.equal(startingIncarnation(0), 1);
});
