import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createNode, type Member, MemoryNetwork, type ShoalNode } from "../../mod.ts";
import {
  type DataDirFs,
  type DataDirProblem,
  loadState,
  saveState,
  startingIncarnation,
  STATE_FILE,
  type SyncableFile,
  writeDurably,
} from "../../src/node/persist.ts";
import {
  choosePeers,
  PEERS_FILE,
  PEERS_LIMIT,
  PeerSnapshot,
  readPeers,
} from "../../src/agent/snapshot.ts";
import { startAgent } from "../../src/agent/agent.ts";
import type { ClusterView } from "../../src/http/view.ts";
import type { MembershipEvent } from "../../src/core/effects.ts";

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shoal-"));
  dirs.push(dir);
  return dir;
}

const net = new MemoryNetwork();
const transport = net.binder();
const streams = false as const;

/** Poll `check` every 20 ms, at most 250 times. */
async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function savedState(dir: string): Promise<unknown> {
  return JSON.parse(await readFile(join(dir, STATE_FILE), "utf8"));
}

test("the data directory keeps name and incarnation; a restart outranks its previous life", {
  timeout: 20_000,
}, async () => {
  const dir = await tempDir();
  const first = await createNode({
    name: "keeper",
    bind: "127.0.9.1:7946",
    dataDir: dir,
    transport,
    streams,
  });
  const inc1 = first.localMember().incarnation;
  assert.ok(inc1 >= Math.floor(Date.now() / 1000) - 5, "incarnation is seeded from the clock");
  await first.updateMeta(new Uint8Array([1]), 100); // bumps the incarnation
  await first.close();
  assert.deepEqual(await savedState(dir), { name: "keeper", incarnation: inc1 + 1 });

  // Same directory, no name given: the name is remembered, the incarnation goes up.
  const second = await createNode({ bind: "127.0.9.1:7946", dataDir: dir, transport, streams });
  assert.equal(second.name, "keeper");
  assert.ok(second.localMember().incarnation > inc1 + 1);
  await second.close();

  // Another name on the same directory is refused: that is configuration, not corruption.
  const problems: DataDirProblem[] = [];
  await assert.rejects(
    createNode({
      name: "other",
      bind: "127.0.9.1:7946",
      dataDir: dir,
      transport,
      streams,
      onDataDirProblem: (p) => problems.push(p),
    }),
    /belongs to node "keeper"/,
  );
  assert.deepEqual(problems, []);
});

for (
  const [what, content, reason] of [
    ["an empty", "", /empty/],
    ["a blank", " \n", /empty/],
    ["a truncated", '{"name":"keep', /not JSON/],
    ["a garbage", "\u0000\u0001\u00ff garbage", /not JSON/],
    ["a nameless", '{"incarnation": 5}', /no name/],
    ["a non-object", "[1, 2]", /no name/],
  ] as const
) {
  test(`${what} state file is reported; the node starts without it and rewrites it`, {
    timeout: 20_000,
  }, async () => {
    const dir = await tempDir();
    await writeFile(join(dir, STATE_FILE), content);
    const problems: DataDirProblem[] = [];
    const before = Math.floor(Date.now() / 1000);
    const node = await createNode({
      name: "phoenix",
      bind: "127.0.9.2:7946",
      dataDir: dir,
      transport,
      streams,
      onDataDirProblem: (p) => problems.push(p),
    });
    try {
      assert.equal(problems.length, 1);
      assert.equal(problems[0].path, join(dir, STATE_FILE));
      assert.match(problems[0].reason, reason);
      assert.equal(node.name, "phoenix");
      // The state is lost, so the clock still puts the new life above the old one.
      assert.ok(node.localMember().incarnation >= before, "incarnation from the clock");
      const inc = node.localMember().incarnation;
      await until(
        async () =>
          JSON.stringify(await savedState(dir)) ===
            JSON.stringify({ name: "phoenix", incarnation: inc }),
        "the state file to be rewritten",
      );
    } finally {
      await node.close();
    }
  });
}

test("a state file with a name but a broken incarnation keeps the name (and its check)", {
  timeout: 20_000,
}, async () => {
  const dir = await tempDir();
  await writeFile(join(dir, STATE_FILE), '{"name":"keeper","incarnation":"7"}');
  const problems: DataDirProblem[] = [];
  const onDataDirProblem = (p: DataDirProblem) => problems.push(p);
  await assert.rejects(
    createNode({
      name: "other",
      bind: "127.0.9.3:7946",
      dataDir: dir,
      transport,
      streams,
      onDataDirProblem,
    }),
    /belongs to node "keeper"/,
  );
  const node = await createNode({
    bind: "127.0.9.3:7946",
    dataDir: dir,
    transport,
    streams,
    onDataDirProblem,
  });
  await node.close();
  assert.equal(node.name, "keeper");
  assert.equal(problems.length, 2);
  assert.match(problems[1].reason, /incarnation/);
  assert.deepEqual(await loadState(dir), {
    name: "keeper",
    incarnation: node.localMember().incarnation,
  });
});

test("loadState: no file is no state and no problem; a directory in its place is an error", async () => {
  const dir = await tempDir();
  const problems: DataDirProblem[] = [];
  assert.equal(await loadState(dir, { onProblem: (p) => problems.push(p) }), undefined);
  assert.deepEqual(problems, []);
  assert.equal(await loadState(join(dir, "missing")), undefined);
  await mkdir(join(dir, STATE_FILE));
  await assert.rejects(loadState(dir));
});

test("the state file is valid JSON after many rapid saves, and every read sees a whole file", {
  timeout: 20_000,
}, async () => {
  const dir = await tempDir();
  const saves: Promise<void>[] = [];
  for (let i = 1; i <= 200; i++) saves.push(saveState(dir, { name: "rapid", incarnation: i }));
  let done = false;
  const all = Promise.all(saves).finally(() => (done = true));
  for (let i = 0; i < 10_000 && !done; i++) {
    const state = await loadState(dir, {
      onProblem: (p) => assert.fail(`a read saw a broken file: ${p.reason}`),
    });
    if (state) assert.equal(state.name, "rapid");
    await new Promise((r) => setTimeout(r, 0));
  }
  await all;
  assert.deepEqual(await savedState(dir), { name: "rapid", incarnation: 200 });
});

/** A file system that records every call and can be told to fail some. */
function recordingFs(fail: { dirOpen?: string; fileSync?: string; dirSync?: string } = {}): {
  fs: DataDirFs;
  calls: string[];
  files: Map<string, string>;
} {
  const calls: string[] = [];
  const files = new Map<string, string>();
  const error = (code: string) => Object.assign(new Error(code), { code });
  const fs: DataDirFs = {
    mkdir(path) {
      calls.push(`mkdir ${path}`);
      return Promise.resolve();
    },
    readFile(path) {
      calls.push(`readFile ${path}`);
      const text = files.get(path);
      return text === undefined ? Promise.reject(error("ENOENT")) : Promise.resolve(text);
    },
    open(path, flags) {
      calls.push(`open ${path} ${flags}`);
      if (flags === "r" && fail.dirOpen) return Promise.reject(error(fail.dirOpen));
      let body = "";
      const handle: SyncableFile = {
        writeFile(data) {
          calls.push(`write ${path}`);
          body += data;
          return Promise.resolve();
        },
        sync() {
          calls.push(`sync ${path}`);
          const code = flags === "w" ? fail.fileSync : fail.dirSync;
          if (code) return Promise.reject(error(code));
          if (flags === "w") files.set(path, body);
          return Promise.resolve();
        },
        close() {
          calls.push(`close ${path}`);
          return Promise.resolve();
        },
      };
      return Promise.resolve(handle);
    },
    rename(from, to) {
      calls.push(`rename ${from} ${to}`);
      const text = files.get(from);
      if (text === undefined) return Promise.reject(error("ENOENT"));
      files.delete(from);
      files.set(to, text);
      return Promise.resolve();
    },
  };
  return { fs, calls, files };
}

test("a save writes a temp file, fsyncs it, renames it, then fsyncs the directory", async () => {
  const { fs, calls, files } = recordingFs();
  await saveState("/data", { name: "a", incarnation: 3 }, fs);
  const path = `/data/${STATE_FILE}`;
  assert.deepEqual(calls, [
    "mkdir /data",
    `open ${path}.tmp w`,
    `write ${path}.tmp`,
    `sync ${path}.tmp`,
    `close ${path}.tmp`,
    `rename ${path}.tmp ${path}`,
    "open /data r",
    "sync /data",
    "close /data",
  ]);
  assert.deepEqual(JSON.parse(files.get(path)!), { name: "a", incarnation: 3 });
  assert.equal(await writeDurably(path, "x", fs), true, "the directory was synced");
});

test("where a directory cannot be opened or fsync'd, the write still succeeds without it", async () => {
  for (const fail of [{ dirOpen: "EISDIR" }, { dirOpen: "EACCES" }, { dirSync: "EINVAL" }]) {
    const { fs, files } = recordingFs(fail);
    assert.equal(await writeDurably("/d/f.json", "new\n", fs), false, JSON.stringify(fail));
    assert.equal(files.get("/d/f.json"), "new\n");
  }
  const { fs } = recordingFs({ dirSync: "EIO" });
  await assert.rejects(writeDurably("/d/f.json", "new\n", fs), /EIO/);
});

test("a failed fsync of the temp file leaves the old file in place", async () => {
  const { fs, calls, files } = recordingFs({ fileSync: "EIO" });
  files.set("/d/f.json", "old\n");
  await assert.rejects(writeDurably("/d/f.json", "new\n", fs), /EIO/);
  assert.equal(files.get("/d/f.json"), "old\n");
  assert.ok(!calls.some((c) => c.startsWith("rename")), "no rename after a failed fsync");
  assert.ok(calls.includes("close /d/f.json.tmp"), "the temp file is closed");
});

test("the real file system: a save fsyncs the directory (Deno and Bun can open one)", async () => {
  const dir = await tempDir();
  assert.equal(await writeDurably(join(dir, "probe.json"), "{}\n"), true);
  assert.equal(await readFile(join(dir, "probe.json"), "utf8"), "{}\n");
});

test("starting incarnation: the clock in seconds, above what was persisted", () => {
  assert.equal(startingIncarnation(1_700_000_000_500), 1_700_000_000);
  assert.equal(
    startingIncarnation(1_700_000_000_500, { name: "a", incarnation: 1_800_000_000 }),
    1_800_000_001,
  );
  assert.equal(
    startingIncarnation(1_700_000_000_500, { name: "a", incarnation: 0 }),
    1_700_000_000,
  );
  assert.equal(startingIncarnation(0), 1);
  // At the last incarnation it stays there (as the core's saturates) instead of wrapping.
  assert.equal(
    startingIncarnation(1_700_000_000_500, { name: "a", incarnation: 0xffff_ffff }),
    0xffff_ffff,
  );
});

// --- peers.json -----------------------------------------------------------------------------

const member = (name: string, address: string, state: Member["state"] = "alive"): Member => ({
  name,
  address,
  port: 7946,
  state,
  incarnation: 1,
  meta: new Uint8Array(),
});

/** A view whose members and events the test drives. */
function fakeView(name: string): {
  view: ClusterView;
  set(members: Member[]): void;
  emit(type: MembershipEvent["type"], m: Member): void;
} {
  let members: Member[] = [member(name, "127.0.0.1")];
  const listeners = new Set<(e: MembershipEvent) => void>();
  const view = {
    name,
    members: () => members,
    member: (n: string) => members.find((m) => m.name === n),
    localMember: () => members[0],
    onEvent(listener: (e: MembershipEvent) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stats: () => {
      throw new Error("unused");
    },
    join: () => {},
    leave: () => Promise.resolve(),
  } as ClusterView;
  return {
    view,
    set: (ms) => (members = [members[0], ...ms]),
    emit: (type, m) => {
      for (const l of listeners) l({ type, member: m });
    },
  };
}

test("the peers list is bounded: alive first, the longest known first, fakes last", async () => {
  const dir = await tempDir();
  const { view, set, emit } = fakeView("me");
  const real: Member[] = [];
  for (let i = 0; i < 100; i++) real.push(member(`real-${i}`, `127.1.0.${i + 1}`));
  const suspect = member("wobbly", "127.1.1.1", "suspect");
  const dead = member("gone", "127.1.1.2", "dead");
  const fakes: Member[] = [];
  for (let i = 0; i < 400; i++) fakes.push(member(`fake-${i}`, `127.2.${i >> 8}.${i & 255}`));
  const snapshot = await PeerSnapshot.open(dir, view);
  try {
    for (const m of [suspect, ...real]) emit("join", m);
    for (const m of fakes) emit("join", m); // injected later
    set([...fakes, dead, suspect, ...real]);
    await snapshot.flush();
    const saved = JSON.parse(await readFile(join(dir, PEERS_FILE), "utf8"));
    assert.equal(saved.version, 1);
    assert.equal(saved.name, "me");
    assert.equal(saved.peers.length, PEERS_LIMIT);
    assert.deepEqual(
      saved.peers.slice(0, 100),
      real.map((m) => `${m.address}:7946`),
      "the members known before the fakes come first",
    );
    assert.ok(!saved.peers.includes("127.1.1.2:7946"), "no dead member");
    assert.ok(!saved.peers.includes("127.0.0.1:7946"), "not ourselves");
    assert.ok(!saved.peers.includes("127.1.1.1:7946"), "the suspect lost its place to alive ones");
    assert.deepEqual(await readPeers(dir), saved.peers);
  } finally {
    await snapshot.close();
  }
});

test("choosePeers: suspects after alive members, within the limit", () => {
  const since = (n: string) => Number(n.slice(1));
  const peers = choosePeers(
    "me",
    [
      member("m3", "127.3.0.3", "suspect"),
      member("m2", "127.3.0.2"),
      member("me", "127.3.0.9"),
      member("m1", "127.3.0.1", "left"),
      member("m0", "127.3.0.4"),
    ],
    since,
    10,
  );
  assert.deepEqual(peers, ["127.3.0.4:7946", "127.3.0.2:7946", "127.3.0.3:7946"]);
  assert.deepEqual(choosePeers("me", [member("a", "127.3.0.1")], since, 0), []);
});

test("a corrupt or empty peers file is reported and ignored; bad entries are dropped", async () => {
  const dir = await tempDir();
  const path = join(dir, PEERS_FILE);
  const read = async () => {
    const problems: string[] = [];
    const peers = await readPeers(dir, { onProblem: (p) => problems.push(p.reason) });
    return { peers, problems };
  };
  assert.deepEqual(await read(), { peers: [], problems: [] }, "no file: nothing to report");
  for (
    const [content, reason] of [["", /empty/], ['{"peers": [', /not JSON/], [
      "{}",
      /no peers/,
    ]] as const
  ) {
    await writeFile(path, content);
    const { peers, problems } = await read();
    assert.deepEqual(peers, []);
    assert.equal(problems.length, 1);
    assert.match(problems[0], reason);
  }
  await writeFile(
    path,
    JSON.stringify({ peers: ["127.0.0.2:7946", 7, "not an address", "127.0.0.2:7946"] }),
  );
  const mixed = await read();
  assert.deepEqual(mixed.peers, ["127.0.0.2:7946"]);
  assert.deepEqual(mixed.problems, ["2 entries are not host:port addresses"]);
  const many = Array.from({ length: 1000 }, (_, i) => `127.4.${i >> 8}.${i & 255}:7946`);
  await writeFile(path, JSON.stringify({ peers: many }));
  const big = await read();
  assert.deepEqual(big.peers, many.slice(0, PEERS_LIMIT));
  assert.equal(big.problems.length, 1);
  assert.match(big.problems[0], /1000 entries/);
});

test("a failed peers write is reported", async () => {
  const { fs } = recordingFs({ fileSync: "ENOSPC" });
  const { view, set } = fakeView("me");
  set([member("peer", "127.5.0.1")]);
  const problems: DataDirProblem[] = [];
  const snapshot = await PeerSnapshot.open("/d", view, { fs, onProblem: (p) => problems.push(p) });
  await assert.rejects(snapshot.flush(), /ENOSPC/);
  await snapshot.close();
  assert.ok(problems.length >= 1);
  assert.equal(problems[0].path, `/d/${PEERS_FILE}`);
  assert.match(problems[0].reason, /cannot write.*ENOSPC/);
});

test("an agent starts over a corrupt data dir, reports each file and counts them", {
  timeout: 20_000,
}, async () => {
  const dir = await tempDir();
  await writeFile(join(dir, STATE_FILE), "");
  await writeFile(join(dir, PEERS_FILE), "{{{");
  const problems: DataDirProblem[] = [];
  const agent = await startAgent({
    name: "survivor",
    bind: "127.0.9.4:7946",
    dataDir: dir,
    transport,
    streams,
    onDataDirProblem: (p) => problems.push(p),
  });
  let node: ShoalNode | undefined;
  try {
    node = agent.node;
    assert.equal(node.name, "survivor");
    assert.deepEqual(agent.rejoined, []);
    assert.equal(agent.dataDirProblems, 2);
    assert.deepEqual(
      problems.map((p) => p.path).sort(),
      [
        join(dir, PEERS_FILE),
        join(dir, STATE_FILE),
      ].sort(),
    );
  } finally {
    await agent.shutdown();
  }
  assert.equal((await loadState(dir))?.name, "survivor", "the state file is whole again");
});
