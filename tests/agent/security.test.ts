/**
 * The agent's encryption and label layers (`--key`, `--label`): round trips, refusals, key
 * rotation, byte compatibility with the wire layer's own memberlist implementation
 * (`src/wire/packet_security.ts`, checked against memberlist's vectors), and real agents.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../../src/core/codec.ts";
import type { Message } from "../../src/core/messages.ts";
import { createSecureCodec } from "../../src/agent/secure_codec.ts";
import { memberlistCodec } from "../../src/wire/codec.ts";
import { Keyring } from "../../src/wire/keyring.ts";
import { createPacketSecurity } from "../../src/wire/packet_security.ts";
import { AgentProcess, eventually, FAST_TUNE, runCli } from "./helpers.ts";

const T = { timeout: 20_000 };
const key = (fill: number, size = 32) => new Uint8Array(size).fill(fill);
const PING: Message = { type: "ping", seqNo: 7, node: "b" };

function decodeError(fn: () => unknown, kind: string): void {
  assert.throws(fn, (e: unknown) => e instanceof DecodeError && e.kind === kind);
}

describe("secure codec", () => {
  test("round trip with a key and a label; overhead is exact", T, () => {
    for (const size of [16, 32]) {
      const codec = createSecureCodec(memberlistCodec, { keys: [key(1, size)], label: "prod" });
      const part = codec.encode(PING);
      const packet = codec.frame([part], { crc: true });
      assert.equal(packet.length, part.length + codec.overhead(1, { crc: true }));
      assert.deepEqual(packet.subarray(0, 6), new Uint8Array([0xf4, 4, 112, 114, 111, 100]));
      assert.equal(packet[6], 1, "encryption version 1");
      assert.deepEqual(codec.decodePacket(packet), memberlistCodec.decodePacket(part));
    }
  });

  test("no keys and no label: the inner codec itself", T, () => {
    assert.equal(createSecureCodec(memberlistCodec, {}), memberlistCodec);
  });

  test("a different label, a missing label or a stray label is refused", T, () => {
    const prod = createSecureCodec(memberlistCodec, { label: "prod" });
    const test = createSecureCodec(memberlistCodec, { label: "test" });
    const packet = test.frame([test.encode(PING)]);
    decodeError(() => prod.decodePacket(packet), "bad-label");
    decodeError(
      () => prod.decodePacket(memberlistCodec.frame([memberlistCodec.encode(PING)])),
      "bad-label",
    );
    decodeError(() => memberlistCodec.decodePacket(packet), "bad-label");
    decodeError(() => prod.decodePacket(new Uint8Array([0xf4, 9, 1])), "bad-label");
  });

  test("a wrong key, or plaintext, fails to decrypt; rotation keeps old keys working", T, () => {
    const a = createSecureCodec(memberlistCodec, { keys: [key(1)] });
    const b = createSecureCodec(memberlistCodec, { keys: [key(2)] });
    const packet = a.frame([a.encode(PING)]);
    decodeError(() => b.decodePacket(packet), "decrypt-failed");
    decodeError(
      () => a.decodePacket(memberlistCodec.frame([memberlistCodec.encode(PING)])),
      "decrypt-failed",
    );
    const tampered = packet.slice();
    tampered[20] ^= 1;
    decodeError(() => a.decodePacket(tampered), "decrypt-failed");
    const rotated = createSecureCodec(memberlistCodec, { keys: [key(2), key(1)] });
    assert.equal(rotated.decodePacket(packet).length, 1);
  });

  test("bad keys and labels are refused up front", T, () => {
    assert.throws(() => createSecureCodec(memberlistCodec, { keys: [key(1, 20)] }), /16, 24 or 32/);
    assert.throws(() => createSecureCodec(memberlistCodec, { label: "x".repeat(256) }), /255/);
  });

  test("byte-compatible with the wire layer's packet security, both ways", T, async () => {
    for (const opts of [{ key: key(3), label: "blue" }, { key: key(4, 16), label: "" }]) {
      const mine = createSecureCodec(memberlistCodec, { keys: [opts.key], label: opts.label });
      const theirs = createPacketSecurity({ keyring: new Keyring(opts.key), label: opts.label });
      const inner = memberlistCodec.frame([memberlistCodec.encode(PING)], { crc: true });
      // theirs → mine
      const sealed = await theirs.seal(inner);
      assert.deepEqual(mine.decodePacket(sealed), memberlistCodec.decodePacket(inner));
      // mine → theirs
      const framed = mine.frame([mine.encode(PING)], { crc: true });
      assert.deepEqual(await theirs.open(framed), inner);
      assert.equal(mine.overhead(1) - memberlistCodec.overhead(1), theirs.overhead);
    }
  });
});

describe("agents with --key and --label", { timeout: 90_000 }, () => {
  const agents: AgentProcess[] = [];
  after(async () => {
    await Promise.all(agents.map((a) => a.stop("SIGKILL")));
  });

  test("same key and label: one cluster; another key: kept out", { timeout: 60_000 }, async () => {
    const k = (await runCli("bun", ["keygen"])).stdout.trim();
    const other = (await runCli("deno", ["keygen"])).stdout.trim();
    const common = ["--bind", "127.0.0.1:0", "--http", "127.0.0.1:0", ...FAST_TUNE];
    const a = new AgentProcess("deno", "sec-a", [...common, "--key", k, "--label", "blue"]);
    agents.push(a);
    const seed = `127.0.0.1:${await a.udpPort()}`;
    const http = await a.httpAddr();
    // b holds k (primary) and another key; c has only the other key; e has k but no label.
    const b = new AgentProcess("bun", "sec-b", [
      ...common,
      "--key",
      k,
      "--key",
      other,
      "--label",
      "blue",
      "--join",
      seed,
    ]);
    const c = new AgentProcess("deno", "sec-c", [
      ...common,
      "--key",
      other,
      "--label",
      "blue",
      "--join",
      seed,
    ]);
    const e = new AgentProcess("bun", "sec-e", [...common, "--key", k, "--join", seed]);
    agents.push(b, c, e);
    const names = await eventually(
      async () => {
        const r = await runCli("deno", ["members", "--http", http, "--json"]);
        const alive = (JSON.parse(r.stdout).members as { name: string; state: string }[])
          .filter((m) => m.state === "alive").map((m) => m.name);
        return alive.includes("sec-b") ? alive : undefined;
      },
      30_000,
      "sec-a to see sec-b",
    );
    await c.udpPort();
    await e.udpPort();
    assert.ok(!names.includes("sec-c"), "a member with another key must not get in");
    assert.ok(!names.includes("sec-e"), "a member without the label must not get in");
    // c and e keep retrying their seed, so their packets reach a and are refused, by kind.
    const count = (metrics: string, kind: string) =>
      Number(new RegExp(`shoal_decode_errors_total\\{kind="${kind}"\\} (\\d+)`).exec(metrics)?.[1]);
    await eventually(
      async () => {
        const metrics = await (await fetch(`http://${http}/metrics`)).text();
        return count(metrics, "decrypt-failed") > 0 && count(metrics, "bad-label") > 0
          ? true
          : undefined;
      },
      20_000,
      "refused packets counted by kind",
    );
  });
});
