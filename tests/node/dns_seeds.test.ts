/**
 * DNS seeds on real sockets (127.0.0.1): a seed name is resolved again at every join attempt
 * (an injected resolver whose answers change), unresolvable and hanging names are reported
 * and retried, malformed seeds throw at once, and a node joins another through a name from
 * /etc/hosts with the runtime's own resolver.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { AddressError, createNode, type ResolveResult, type ShoalNode } from "../../mod.ts";
import { FAST, waitFor } from "./helpers.ts";

const LONG = { timeout: 120_000 };
const HOSTS = "/etc/hosts";
const NAME = "seed.shoal.test";

const sees = (node: ShoalNode, name: string) => node.member(name)?.state === "alive";

describe("DNS seeds (node)", () => {
  test(
    "a name is resolved at every attempt: the node reaches the addresses it resolves to now",
    LONG,
    async () => {
      await using seed = await createNode({ name: "dns-seed", bind: "127.0.0.1:0", config: FAST });
      // A closed port: where the name pointed before the seed moved.
      const gone = await createNode({ name: "dns-gone", bind: "127.0.0.1:0", config: FAST });
      const gonePort = gone.address.port;
      await gone.close();
      const answers: ResolveResult[] = [];
      let calls = 0;
      await using joiner = await createNode({
        name: "dns-joiner",
        bind: "127.0.0.1:0",
        config: FAST,
        seeds: ["svc.shoal.test:7946", "hang.shoal.test:7946"],
        resolveTimeoutMs: 300,
        resolver: (name) => {
          if (name === "hang.shoal.test") return new Promise(() => {}); // never answers
          calls++;
          if (calls === 1) return Promise.reject(new Error("ENOTFOUND svc.shoal.test"));
          const port = calls === 2 ? gonePort : seed.address.port;
          return Promise.resolve([{ host: "127.0.0.1", port }]);
        },
        onResolve: (r) => answers.push(r),
      });
      await waitFor(() => sees(joiner, "dns-seed") && sees(seed, "dns-joiner"), 30_000, "join");
      assert.ok(calls >= 3, `resolved at every attempt (${calls} lookups)`);
      const svc = answers.filter((r) => r.name === "svc.shoal.test");
      assert.match(svc[0].error ?? "", /ENOTFOUND/, "the unresolvable first answer is reported");
      assert.deepEqual(svc[1].addresses, [{ host: "127.0.0.1", port: gonePort }]);
      const hung = answers.find((r) => r.name === "hang.shoal.test");
      assert.match(hung?.error ?? "", /timed out after 300 ms/);
      const lookups = joiner.stats().seedLookups;
      assert.ok(lookups && lookups.failed >= 2 && lookups.total >= lookups.failed + 2);
    },
  );

  test(
    "only unresolvable seeds: the node starts, keeps retrying and reports each failure",
    LONG,
    async () => {
      const errors: string[] = [];
      await using lonely = await createNode({
        name: "dns-lonely",
        bind: "127.0.0.1:0",
        config: FAST,
        seeds: ["nowhere.shoal.test:7946"],
        resolver: () => Promise.reject(new Error("getaddrinfo ENOTFOUND nowhere.shoal.test")),
        onResolve: (r) => r.error !== undefined && errors.push(r.error),
      });
      await waitFor(() => errors.length >= 3, 20_000, "three failed attempts");
      assert.equal(lonely.members().length, 1);
      assert.ok((lonely.stats().seedLookups?.failed ?? 0) >= 3);
    },
  );

  test("a malformed seed is an AddressError at once, from createNode and join()", async () => {
    for (const bad of ["bad..name:7946", "seed.shoal.test:99999", "-x:1"]) {
      await assert.rejects(
        createNode({ name: "dns-bad", bind: "127.0.0.1:0", seeds: [bad] }),
        AddressError,
        bad,
      );
    }
    await using node = await createNode({ name: "dns-ok", bind: "127.0.0.1:0", config: FAST });
    assert.throws(() => node.join(["under_score..x:1"]), AddressError);
  });

  test(
    `a node joins another through ${NAME} from /etc/hosts (the runtime's resolver)`,
    LONG,
    async (t) => {
      const line = `127.0.0.1 ${NAME}`;
      let added = false;
      try {
        const hosts = readFileSync(HOSTS, "utf8");
        if (!hosts.split("\n").some((l) => l.trim().split(/\s+/).slice(1).includes(NAME))) {
          writeFileSync(HOSTS, `${hosts.endsWith("\n") ? hosts : `${hosts}\n`}${line}\n`);
          added = true;
        }
      } catch (err) {
        const reason = `${HOSTS} is not writable (${(err as Error).message})`;
        console.log(`skipped: ${reason}`);
        t.skip?.(reason);
        return;
      }
      try {
        await using a = await createNode({ name: "hosts-a", bind: "127.0.0.1:0", config: FAST });
        await using b = await createNode({
          name: "hosts-b",
          bind: "127.0.0.1:0",
          config: FAST,
          seeds: [`${NAME}:${a.address.port}`],
        });
        await waitFor(() => sees(a, "hosts-b") && sees(b, "hosts-a"), 30_000, "join by name");
        assert.ok((b.stats().seedLookups?.total ?? 0) >= 1);
        assert.equal(b.stats().seedLookups?.failed, 0);
      } finally {
        if (added) {
          // Remove only our line: someone may have changed the file meanwhile.
          const now = readFileSync(HOSTS, "utf8").split("\n");
          const at = now.lastIndexOf(line);
          if (at >= 0) now.splice(at, 1);
          writeFileSync(HOSTS, now.join("\n"));
        }
      }
    },
  );
});
