/**
 * Stream messages (protocol.md §6, vectors §16.6): byte-exact encoding, framing both ways (label,
 * encryption, compression), incremental reading off a connection, limits and deadlines.
 */

import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../../src/core/codec.ts";
import type { NodeState } from "../../src/core/messages.ts";
import { MemoryStreamNetwork, type StreamConn, StreamError } from "../../src/transport/mod.ts";
import {
  decodeStreamMessage,
  encodeCompress,
  encodeStreamMessage,
  Keyring,
  type PushPull,
  Reader,
  readStreamMessage,
  RemoteStreamError,
  type ServeOutcome,
  serveStream,
  type StreamMessage,
  type StreamReadOptions,
  streamRequest,
  writeStreamMessage,
} from "../../src/wire/mod.ts";
import { readPushPullHeader } from "../../src/wire/stream_messages.ts";
import type { ReadWork } from "../../src/wire/stream_reader.ts";
import { concat, hex, toHex, utf8 } from "./_helpers.ts";

const T = { timeout: 20_000 };
const KEY = utf8("0123456789abcdef");
const NONCE = hex("00 01 02 03 04 05 06 07 08 09 0a 0b");
const VSN = new Uint8Array([1, 5, 2, 0, 0, 0]);

const PUSH_PULL = hex(`
  06
  83 a4 4a 6f 69 6e c3 a5 4e 6f 64 65 73 01 ac 55 73 65 72 53 74 61 74 65 4c 65 6e 03
  87 a4 41 64 64 72 a4 7f 00 00 01 ab 49 6e 63 61 72 6e 61 74 69 6f 6e 01 a4 4d 65 74 61 c0 a4 4e
  61 6d 65 a6 6e 6f 64 65 2d 61 a4 50 6f 72 74 cd 1f 0a a5 53 74 61 74 65 00 a3 56 73 6e a6 01 05
  02 00 00 00
  75 73 72`);
const PUSH_PULL_ENCRYPTED = hex(`
  0a 00 00 00 81 01 00 01 02 03 04 05 06 07 08 09 0a 0b fb bc 60 57 71 1d 55 f5 4d 68 68 7e a5 e8
  b1 81 55 a4 32 88 54 c7 2b 3f 12 25 8f 9d ec 2c 0f 2d 3a 73 ed 4a 8f ee 98 c6 c1 6e c9 fd 1f 1f
  33 40 17 0b 66 40 35 d5 0e 13 76 c8 48 c0 09 13 b2 2f 16 20 96 2b 6e fd 2b 4a ce 85 d2 e3 52 60
  12 20 1c 9f 6c 18 7a 5e d3 57 dc 22 67 c9 40 91 91 eb e2 48 3f 74 d1 88 ce 7e 8c 23 54 66 2d a6
  bf 78 0e 36 f5 c2`);
const USER_HELLO = hex("08 81 aa 55 73 65 72 4d 73 67 4c 65 6e 05 68 65 6c 6c 6f");

const NODE_A: NodeState = {
  name: "node-a",
  addr: new Uint8Array([127, 0, 0, 1]),
  port: 7946,
  meta: null,
  incarnation: 1,
  state: 0,
  vsn: VSN,
};
const VECTOR_MESSAGE: PushPull = {
  type: "pushPull",
  join: true,
  states: [NODE_A],
  userState: utf8("usr"),
};

const acceptor: StreamReadOptions = { side: "acceptor" };

async function rejectsKind(p: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DecodeError, `expected DecodeError(${kind}), got ${e}`);
    assert.equal(e.kind, kind, e.message);
    return true;
  });
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

/** A connected pair on an in-memory network delivering `chunkSize`-byte chunks. */
async function pair(chunkSize = 1): Promise<{ dialer: StreamConn; acceptor: StreamConn }> {
  const net = new MemoryStreamNetwork({ chunkSize });
  let accepted: StreamConn | undefined;
  const l = net.listen({ host: "10.0.0.1", port: 7946, onConnection: (c) => (accepted = c) });
  const dialer = await net.dial("10.0.0.2", l.local, 1000);
  while (!accepted) await new Promise((r) => setTimeout(r, 1));
  cleanups.push(() => l.close(), () => dialer.close());
  return { dialer, acceptor: accepted };
}

describe("vectors (protocol.md §16.6)", () => {
  test("push/pull, plaintext: 100 bytes, both ways", T, async () => {
    const bytes = await encodeStreamMessage(VECTOR_MESSAGE, { side: "dialer" });
    assert.equal(toHex(bytes), toHex(PUSH_PULL));
    assert.deepEqual(await decodeStreamMessage(PUSH_PULL, acceptor), VECTOR_MESSAGE);
  });

  test("push/pull, encrypted v1 (AAD = 0a 00 00 00 81): 134 bytes, both ways", T, async () => {
    const keyring = new Keyring(KEY);
    const bytes = await encodeStreamMessage(VECTOR_MESSAGE, {
      side: "dialer",
      keyring,
      nonce: NONCE,
    });
    assert.equal(toHex(bytes), toHex(PUSH_PULL_ENCRYPTED));
    assert.deepEqual(
      await decodeStreamMessage(PUSH_PULL_ENCRYPTED, { side: "acceptor", keyring }),
      VECTOR_MESSAGE,
    );
  });

  test("user message stream", T, async () => {
    const m: StreamMessage = { type: "user", payload: utf8("hello") };
    assert.equal(toHex(await encodeStreamMessage(m, { side: "dialer" })), toHex(USER_HELLO));
    assert.deepEqual(await decodeStreamMessage(USER_HELLO, acceptor), m);
  });

  test("push/pull header: Go 0.5.x unsigned forms out, ≥0.5.1 signed forms in", T, async () => {
    const states = Array.from({ length: 200 }, (_, i) => ({ ...NODE_A, name: `n${i}` }));
    const m: PushPull = { type: "pushPull", join: false, states, userState: new Uint8Array(70000) };
    const bytes = await encodeStreamMessage(m, { side: "dialer" });
    const v05 = hex(`83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 cc c8 ac 55 73 65 72 53 74 61 74 65
      4c 65 6e ce 00 01 11 70`);
    assert.equal(toHex(bytes.subarray(1, 1 + v05.length)), toHex(v05));
    assert.deepEqual(await decodeStreamMessage(bytes, acceptor), m);
    const v2 = hex(`83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 d1 00 c8 ac 55 73 65 72 53 74 61 74 65
      4c 65 6e d2 00 01 11 70`);
    assert.deepEqual(readPushPullHeader(new Reader(v2)), {
      join: false,
      nodes: 200,
      userStateLen: 70000,
    });
    const signed = concat(new Uint8Array([6]), v2, bytes.subarray(1 + v05.length));
    assert.deepEqual(await decodeStreamMessage(signed, acceptor), m);
  });
});

describe("framing", () => {
  const keyring = new Keyring(KEY);
  const ping: StreamMessage = { type: "ping", seqNo: 9, node: "node-b", sourceNode: "node-a" };
  const ack: StreamMessage = { type: "ack", seqNo: 9, payload: null };
  const err: StreamMessage = { type: "err", error: "boom" };

  test("every message type round-trips under every framing", T, async () => {
    const messages: StreamMessage[] = [VECTOR_MESSAGE, ping, ack, err, {
      type: "user",
      payload: utf8("hi"),
    }, { type: "pushPull", join: false, states: [], userState: new Uint8Array(0) }];
    const framings = [
      {},
      { compress: true },
      { keyring },
      { keyring, compress: true },
      { keyring, encryptionVersion: 0 as const },
      { keyring, label: "prod", compress: true },
      { label: "prod" },
    ];
    for (const m of messages) {
      for (const f of framings) {
        const request = await encodeStreamMessage(m, { side: "dialer", ...f });
        assert.deepEqual(await decodeStreamMessage(request, { side: "acceptor", ...f }), m);
        const reply = await encodeStreamMessage(m, { side: "acceptor", ...f });
        assert.deepEqual(await decodeStreamMessage(reply, { side: "dialer", ...f }), m);
      }
    }
    assert.equal(
      toHex(await encodeStreamMessage(err, { side: "acceptor" })),
      "0d 81 a5 45 72 72 6f 72 a4 62 6f 6f 6d",
    );
  });

  test("compression is Go's: always applied when asked, decoded always", T, async () => {
    const compressed = await encodeStreamMessage(ack, { side: "acceptor", compress: true });
    assert.equal(compressed[0], 0x09);
    assert.ok(compressed.length > 18); // larger than the plain ack, sent anyway (as Go does)
    const plain = await encodeStreamMessage(ack, { side: "acceptor" });
    assert.deepEqual(compressed, encodeCompress(plain));
  });

  test("labels: only the dialer writes one; the acceptor checks it", T, async () => {
    const labelled = await encodeStreamMessage(ping, { side: "dialer", label: "prod" });
    assert.equal(toHex(labelled.subarray(0, 6)), "f4 04 70 72 6f 64");
    const reply = await encodeStreamMessage(ack, { side: "acceptor", label: "prod" });
    assert.equal(reply[0], 0x02);
    await rejectsKind(decodeStreamMessage(labelled, { side: "acceptor" }), "bad-label");
    await rejectsKind(
      decodeStreamMessage(labelled, { side: "acceptor", label: "dev" }),
      "bad-label",
    );
    const bare = await encodeStreamMessage(ping, { side: "dialer" });
    await rejectsKind(decodeStreamMessage(bare, { side: "acceptor", label: "prod" }), "bad-label");
    assert.deepEqual(
      await decodeStreamMessage(bare, {
        side: "acceptor",
        label: "prod",
        skipInboundLabelCheck: true,
      }),
      ping,
    );
    await rejectsKind(
      decodeStreamMessage(hex("f4 00 00"), { side: "acceptor", label: "prod" }),
      "bad-label",
    );
    // a reply never has a label header: a dialer sees an unknown type
    await rejectsKind(
      decodeStreamMessage(labelled, { side: "dialer", label: "prod" }),
      "unknown-type",
    );
  });

  test("label is part of the AAD (5 header bytes ‖ label)", T, async () => {
    const sealed = await encodeStreamMessage(ping, { side: "dialer", keyring, label: "prod" });
    assert.deepEqual(
      await decodeStreamMessage(sealed, { side: "acceptor", keyring, label: "prod" }),
      ping,
    );
    // strip the label header and present it unlabelled to a skip-check node: same AAD
    assert.deepEqual(
      await decodeStreamMessage(sealed.subarray(6), {
        side: "acceptor",
        keyring,
        label: "prod",
        skipInboundLabelCheck: true,
      }),
      ping,
    );
    await rejectsKind(
      decodeStreamMessage(sealed.subarray(6), { side: "acceptor", keyring }),
      "decrypt-failed",
    );
    // the reply's AAD uses the label too
    const reply = await encodeStreamMessage(ack, { side: "acceptor", keyring, label: "prod" });
    assert.deepEqual(
      await decodeStreamMessage(reply, { side: "dialer", keyring, label: "prod" }),
      ack,
    );
    await rejectsKind(decodeStreamMessage(reply, { side: "dialer", keyring }), "decrypt-failed");
  });

  test("encryption switches (protocol.md §6.2)", T, async () => {
    const plain = await encodeStreamMessage(ping, { side: "dialer" });
    const sealed = await encodeStreamMessage(ping, { side: "dialer", keyring });
    // encrypted stream to a node without keys; plaintext to a node that requires encryption
    await rejectsKind(decodeStreamMessage(sealed, acceptor), "decrypt-failed");
    await rejectsKind(decodeStreamMessage(plain, { side: "acceptor", keyring }), "decrypt-failed");
    // rolling upgrade: accept plaintext, still decrypt encrypted
    const lax = { side: "acceptor" as const, keyring, verifyIncoming: false };
    assert.deepEqual(await decodeStreamMessage(plain, lax), ping);
    assert.deepEqual(await decodeStreamMessage(sealed, lax), ping);
    // verifyOutgoing=false sends plaintext despite the keyring
    assert.deepEqual(
      await encodeStreamMessage(ping, { side: "dialer", keyring, verifyOutgoing: false }),
      plain,
    );
    // wrong key
    const other = new Keyring(new Uint8Array(32).fill(1));
    await rejectsKind(
      decodeStreamMessage(sealed, { side: "acceptor", keyring: other }),
      "decrypt-failed",
    );
    const both = new Keyring(other.primary, [KEY]);
    assert.deepEqual(await decodeStreamMessage(sealed, { side: "acceptor", keyring: both }), ping);
  });
});

describe("limits and hostile input", () => {
  test("push/pull header limits (memberlist ≥ 0.6.0) and negative counts", T, async () => {
    const header = (nodes: string, user: string) =>
      hex(
        `06 83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 ${nodes} ac 55 73 65 72 53 74 61 74 65 4c 65 6e ${user}`,
      );
    await rejectsKind(decodeStreamMessage(header("ce 00 10 00 01", "00"), acceptor), "bad-field");
    await rejectsKind(decodeStreamMessage(header("ff", "00"), acceptor), "bad-field");
    await rejectsKind(decodeStreamMessage(header("00", "ce 01 40 00 01"), acceptor), "bad-field");
    await rejectsKind(decodeStreamMessage(header("d0 ff", "00"), acceptor), "bad-field");
    await rejectsKind(decodeStreamMessage(header("05", "00"), acceptor), "truncated");
    await rejectsKind(decodeStreamMessage(header("00", "05"), acceptor), "truncated");
  });

  test("bad node states, types and framing", T, async () => {
    const entry = (fields: string) =>
      hex(
        `06 83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 01 ac 55 73 65 72 53 74 61 74 65 4c 65 6e 00 ${fields}`,
      );
    await rejectsKind(decodeStreamMessage(entry("81 a4 4e 61 6d 65 a1 61"), acceptor), "bad-field"); // no Addr
    await rejectsKind(
      decodeStreamMessage(
        entry("82 a4 41 64 64 72 a4 7f 00 00 01 a3 56 73 6e a3 01 05 02"),
        acceptor,
      ),
      "bad-field",
    ); // 3-byte Vsn
    await rejectsKind(
      decodeStreamMessage(entry("82 a4 41 64 64 72 a4 7f 00 00 01 a5 53 74 61 74 65 04"), acceptor),
      "bad-field",
    ); // State 4
    assert.deepEqual(
      await decodeStreamMessage(
        entry("82 a4 41 64 64 72 a4 7f 00 00 01 a5 53 74 61 74 65 d0 03"),
        acceptor,
      ),
      {
        type: "pushPull",
        join: false,
        states: [{
          name: "",
          addr: new Uint8Array([127, 0, 0, 1]),
          port: 0,
          meta: null,
          incarnation: 0,
          state: 3,
          vsn: new Uint8Array(0),
        }],
        userState: new Uint8Array(0),
      },
    );
    await rejectsKind(decodeStreamMessage(new Uint8Array(0), acceptor), "empty");
    const request = { side: "acceptor" as const, accept: ["pushPull", "ping", "user"] as const };
    await rejectsKind(decodeStreamMessage(hex("02 80"), request), "unknown-type");
    await rejectsKind(decodeStreamMessage(hex("0d 80"), request), "unknown-type");
    assert.equal((await decodeStreamMessage(USER_HELLO, request)).type, "user");
    for (const t of [1, 3, 4, 5, 7, 11, 12, 14, 0xf3]) {
      await rejectsKind(decodeStreamMessage(new Uint8Array([t, 0x80]), acceptor), "unknown-type");
    }
    await rejectsKind(
      decodeStreamMessage(hex("09 82 a4 41 6c 67 6f 01 a3 42 75 66 a0"), acceptor),
      "bad-compression",
    );
    await rejectsKind(
      decodeStreamMessage(encodeCompress(new Uint8Array([9, 0x80])), acceptor),
      "unknown-type",
    );
    const keyring = new Keyring(KEY);
    await rejectsKind(
      decodeStreamMessage(hex("0a 01 40 00 01"), { side: "acceptor", keyring }),
      "oversized",
    );
    await rejectsKind(
      decodeStreamMessage(hex("0a 00 00 00 40 01 02"), { side: "acceptor", keyring }),
      "truncated",
    );
    await assert.rejects(
      encodeStreamMessage({ ...VECTOR_MESSAGE, states: [{ ...NODE_A, vsn: new Uint8Array(3) }] }, {
        side: "dialer",
      }),
      RangeError,
    );
  });

  test("decompression is capped", T, async () => {
    const big = new Uint8Array(200_000).fill(6);
    const bomb = encodeCompress(big);
    assert.ok(bomb.length < 2000);
    await rejectsKind(
      decodeStreamMessage(bomb, { side: "acceptor", maxDecompressedBytes: 100_000 }),
      "bad-compression",
    );
  });
});

describe("reading off a connection", () => {
  test("one byte at a time: incremental msgpack, a reply on the same connection", T, async () => {
    const { dialer, acceptor: acc } = await pair(1);
    const keyring = new Keyring(KEY);
    const big: PushPull = {
      type: "pushPull",
      join: true,
      states: Array.from(
        { length: 50 },
        (_, i) => ({ ...NODE_A, name: `node-${i}`, meta: utf8(`m${i}`) }),
      ),
      userState: utf8("state"),
    };
    const sent = writeStreamMessage(dialer, big, {
      side: "dialer",
      keyring,
      label: "x",
      compress: true,
    });
    const got = await readStreamMessage(acc, {
      side: "acceptor",
      keyring,
      label: "x",
      timeoutMs: 5000,
    });
    await sent;
    assert.deepEqual(got, big);
    await writeStreamMessage(acc, { ...big, states: [NODE_A] }, {
      side: "acceptor",
      keyring,
      label: "x",
    });
    const reply = await readStreamMessage(dialer, {
      side: "dialer",
      keyring,
      label: "x",
      timeoutMs: 5000,
    });
    assert.equal(reply.type, "pushPull");
    await acc.close();
  });

  test(
    "plain push/pull straight off the connection; the dialer keeps its side open",
    T,
    async () => {
      const { dialer, acceptor: acc } = await pair(7);
      await dialer.write(PUSH_PULL);
      assert.deepEqual(
        await readStreamMessage(acc, { side: "acceptor", timeoutMs: 5000 }),
        VECTOR_MESSAGE,
      );
      assert.equal(dialer.closed, false);
    },
  );

  test("EOF mid-message is truncated", T, async () => {
    const { dialer, acceptor: acc } = await pair(5);
    await dialer.write(PUSH_PULL.subarray(0, 60));
    await dialer.close();
    await rejectsKind(readStreamMessage(acc, { side: "acceptor", timeoutMs: 5000 }), "truncated");
  });

  test("a silent peer hits the deadline: timeout, connection closed", T, async () => {
    const { dialer, acceptor: acc } = await pair();
    await dialer.write(PUSH_PULL.subarray(0, 10));
    const started = performance.now();
    await assert.rejects(
      readStreamMessage(acc, { side: "acceptor", timeoutMs: 100 }),
      (e) => e instanceof StreamError && e.kind === "timeout",
    );
    assert.ok(performance.now() - started < 1000);
    assert.equal(acc.closed, true);
    const abort = new AbortController();
    const { acceptor: acc2 } = await pair();
    const reading = readStreamMessage(acc2, { side: "acceptor", signal: abort.signal });
    abort.abort();
    await assert.rejects(reading, (e) => e instanceof StreamError && e.kind === "timeout");
  });

  test("the byte budget caps what is read", T, async () => {
    const { dialer, acceptor: acc } = await pair(1000);
    await dialer.write(
      hex(
        "06 83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 00 ac 55 73 65 72 53 74 61 74 65 4c 65 6e cd ff ff",
      ),
    );
    await dialer.write(new Uint8Array(10_000));
    await rejectsKind(
      readStreamMessage(acc, { side: "acceptor", timeoutMs: 5000, maxMessageBytes: 4096 }),
      "oversized",
    );
  });
});

/** A connection stub that hands out `bytes` in `size`-byte chunks, then EOF (or silence). */
function chunkedConn(bytes: Uint8Array, size: number, eof = true): StreamConn {
  let at = 0;
  let closed = false;
  return {
    remote: { host: "127.0.0.1", port: 1 },
    get closed() {
      return closed;
    },
    read() {
      if (at >= bytes.length || closed) {
        return eof || closed ? Promise.resolve(null) : new Promise(() => {});
      }
      const chunk = bytes.slice(at, at + size);
      at += size;
      return Promise.resolve(chunk);
    },
    write: () => Promise.resolve(),
    close() {
      closed = true;
      return Promise.resolve();
    },
  };
}

/** A push/pull whose one node state has `n` bytes of Meta as an array of `cc ff` integers. */
function arrayMetaPushPull(n: number): Uint8Array {
  const head = concat(
    hex("06 83 a4 4a 6f 69 6e c2 a5 4e 6f 64 65 73 01 ac 55 73 65 72 53 74 61 74 65 4c 65 6e 00"),
    hex("82 a4 41 64 64 72 a4 0a 00 00 01 a4 4d 65 74 61 dd"),
    new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]),
  );
  const out = new Uint8Array(head.length + 2 * n);
  out.set(head);
  for (let i = head.length; i < out.length; i += 2) out.set([0xcc, 0xff], i);
  return out;
}

describe("linear reading (the decoder sees each object once)", () => {
  test("20 MiB push/pull in 16-byte chunks: decoding work stays linear", T, async () => {
    const states: NodeState[] = [];
    for (let i = 0; i < 170_000; i++) {
      states.push({ ...NODE_A, name: `node-${i}`, incarnation: i, meta: new Uint8Array(40) });
    }
    const message: PushPull = { type: "pushPull", join: false, states, userState: utf8("u") };
    const bytes = await encodeStreamMessage(message, { side: "dialer" });
    assert.ok(
      bytes.length > 19 * 1024 * 1024 && bytes.length <= 20 * 1024 * 1024,
      `${bytes.length}`,
    );
    const work: ReadWork = { visited: 0 };
    const got = await readStreamMessage(chunkedConn(bytes, 16), { ...acceptor, work });
    assert.equal(got.type === "pushPull" && got.states.length, states.length);
    assert.deepEqual(got.type === "pushPull" && got.states[169_999], states[169_999]);
    // Each header byte is scanned once and each object decoded once: < 2 visits per byte.
    assert.ok(work.visited < 2 * bytes.length, `${work.visited} visits for ${bytes.length} bytes`);
  });

  test("one object of 256 Ki small items, byte by byte: linear, not quadratic", T, async () => {
    const bytes = arrayMetaPushPull(256 * 1024);
    const work: ReadWork = { visited: 0 };
    const got = await readStreamMessage(chunkedConn(bytes, 1), { ...acceptor, work });
    assert.equal(got.type === "pushPull" && got.states[0].meta?.length, 256 * 1024);
    // Re-decoding from the object's start on every byte would visit ~3.4e10 bytes.
    assert.ok(work.visited < 3 * bytes.length, `${work.visited} visits for ${bytes.length} bytes`);
  });

  test("chunked reading ends as whole decoding does, for good and bad bytes", T, async () => {
    const outcome = (p: Promise<StreamMessage>) =>
      p.then((m) => JSON.stringify(m), (e) => (e instanceof DecodeError ? e.kind : `${e}`));
    const node = hex(
      "87 a4 41 64 64 72 a4 7f 00 00 01 ab 49 6e 63 61 72 6e 61 74 69 6f 6e 01 a4 4d 65 74 61 c0",
    );
    const header = hex(
      "06 83 a4 4a 6f 69 6e c3 a5 4e 6f 64 65 73 01 ac 55 73 65 72 53 74 61 74 65 4c 65 6e 00",
    );
    const deep = (levels: number) =>
      concat(
        header,
        hex("81 a1 58"),
        new Uint8Array(levels).fill(0x91),
        new Uint8Array([0x01]),
      );
    const cases: [string, Uint8Array][] = [
      ["valid", PUSH_PULL],
      ["cut short", PUSH_PULL.subarray(0, 70)],
      // a bad State, then a map that claims more than arrives: bad-field, not truncated
      [
        "bad field, then EOF",
        concat(header, hex("83 a5 53 74 61 74 65 09 a4 4e 61 6d 65 de ff ff")),
      ],
      [
        "c1 inside an unknown key",
        concat(header, hex("82 a1 58 93 01 c1 02 a4 4e 61 6d 65 a1 61")),
      ],
      ["c1 after a map that cannot fit", concat(header, hex("81 a1 58 de 10 00 c1"))],
      ["nested 32 deep", deep(32)],
      ["nested 40 deep", deep(40)],
      ["ext and fixext skipped", concat(header, hex("82 a1 58 c7 02 05 aa bb a1 59 d4 01 02"))],
      ["a node state", concat(header.subarray(0, header.length), node)],
    ];
    for (const [label, bytes] of cases) {
      const whole = await outcome(decodeStreamMessage(bytes, acceptor));
      for (const size of [1, 3, 1000]) {
        assert.equal(
          await outcome(readStreamMessage(chunkedConn(bytes, size), acceptor)),
          whole,
          `${label}, ${size}-byte chunks`,
        );
      }
    }
    assert.equal(await outcome(decodeStreamMessage(deep(40), acceptor)), "too-deep");
    assert.equal(await outcome(decodeStreamMessage(deep(32), acceptor)), "bad-field");
  });

  test("a big push/pull decoded from memory lets timers run meanwhile", T, async () => {
    const states = Array.from({ length: 20_000 }, (_, i) => ({ ...NODE_A, name: `n-${i}` }));
    const bytes = await encodeStreamMessage(
      { type: "pushPull", join: false, states, userState: new Uint8Array(0) },
      { side: "dialer" },
    );
    let decoding = true;
    let ranDuring = false;
    setTimeout(() => (ranDuring = decoding), 0);
    const got = await decodeStreamMessage(bytes, acceptor);
    decoding = false;
    assert.equal(got.type === "pushPull" && got.states.length, 20_000);
    assert.equal(ranDuring, true);
  });

  test("bytes that already prove a request bad win over the deadline", T, async () => {
    const bytes = hex(
      "06 83 a4 4a 6f 69 6e c3 a5 4e 6f 64 65 73 01 ac 55 73 65 72 53 74 61 74 65 4c 65 6e 00 83 a5 53 74 61 74 65 09",
    );
    await rejectsKind(
      readStreamMessage(chunkedConn(bytes, 4, false), { ...acceptor, timeoutMs: 50 }),
      "bad-field",
    );
  });
});

describe("one exchange from either end (streamRequest / serveStream)", () => {
  const keyring = new Keyring(KEY);
  const security = { keyring, label: "x", compress: true };

  function server(
    handle: Parameters<typeof serveStream>[1],
    sec: Record<string, unknown> = security,
  ): { net: MemoryStreamNetwork; outcomes: ServeOutcome[]; to: { host: string; port: number } } {
    const net = new MemoryStreamNetwork({ chunkSize: 3 });
    const outcomes: ServeOutcome[] = [];
    const l = net.listen({
      host: "10.0.0.1",
      port: 7946,
      onConnection: async (c) =>
        void outcomes.push(await serveStream(c, handle, { ...sec, timeoutMs: 2000 })),
    });
    cleanups.push(() => l.close());
    return { net, outcomes, to: l.local };
  }

  test("push/pull, ping and user requests get their replies", T, async () => {
    const { net, outcomes, to } = server((req) => {
      if (req.type === "pushPull") {
        return { ...req, states: [NODE_A], userState: new Uint8Array(0) };
      }
      if (req.type === "ping") return { type: "ack", seqNo: req.seqNo, payload: null };
      return null;
    });
    const binder = net.binder("10.0.0.2");
    const opts = { ...security, timeoutMs: 2000 };
    const pp = await streamRequest(binder, to, VECTOR_MESSAGE, opts);
    assert.deepEqual(pp.states, [NODE_A]);
    assert.equal(pp.join, true);
    const ack = await streamRequest(binder, to, { type: "ping", seqNo: 5, node: "" }, opts);
    assert.equal(ack.seqNo, 5);
    assert.equal(await streamRequest(binder, to, { type: "user", payload: utf8("u") }, opts), null);
    while (outcomes.length < 3) await new Promise((r) => setTimeout(r, 1));
    assert.deepEqual(outcomes.map((o) => o.request?.type), ["pushPull", "ping", "user"]);
    assert.ok(outcomes.every((o) => o.error === undefined));
  });

  test("wrong SeqNo, err replies, no reply, unreadable requests", T, async () => {
    const { net, outcomes, to } = server((req) =>
      req.type === "ping" ? { type: "ack", seqNo: req.seqNo + 1, payload: null } : null
    );
    const binder = net.binder("10.0.0.2");
    const opts = { ...security, timeoutMs: 2000 };
    await rejectsKind(
      streamRequest(binder, to, { type: "ping", seqNo: 5, node: "" }, opts),
      "bad-field",
    );
    // the acceptor closes without replying to a push/pull
    await rejectsKind(streamRequest(binder, to, VECTOR_MESSAGE, opts), "empty");
    // a request it can't read (no key) is answered with err, which the dialer can read
    await assert.rejects(
      streamRequest(binder, to, VECTOR_MESSAGE, { ...opts, keyring: undefined }),
      (e) => e instanceof DecodeError && e.kind === "decrypt-failed",
    );
    // an unlabelled node answers a labelled request with err: the dialer reports it
    const plain = server(() => null, {});
    await assert.rejects(
      streamRequest(plain.net.binder("10.0.0.2"), plain.to, VECTOR_MESSAGE, {
        label: "x",
        timeoutMs: 2000,
      }),
      (e) => e instanceof RemoteStreamError && /label/.test(e.message),
    );
    assert.equal(plain.outcomes[0]?.error instanceof DecodeError, true);
    assert.equal(outcomes.length, 3);
  });

  test(
    "slots: held from the first byte to the close; none free, closed unanswered",
    T,
    async () => {
      const net = new MemoryStreamNetwork();
      let inFlight = 0;
      const slots = {
        acquire: () => inFlight < 1 && ++inFlight > 0,
        release: () => void inFlight--,
      };
      const outcomes: ServeOutcome[] = [];
      const l = net.listen({
        host: "10.0.0.1",
        port: 7946,
        onConnection: async (c) => {
          const answer = (req: StreamMessage): StreamMessage | null =>
            req.type === "ping" ? { type: "ack", seqNo: req.seqNo, payload: null } : null;
          outcomes.push(await serveStream(c, answer, { timeoutMs: 2000, slots }));
        },
      });
      cleanups.push(() => l.close());
      const binder = net.binder("10.0.0.2");
      const ping = { type: "ping" as const, seqNo: 1, node: "" };
      const idle = await binder.dial(l.local, 1000); // sends nothing: holds no slot
      assert.equal((await streamRequest(binder, l.local, ping, { timeoutMs: 2000 })).seqNo, 1);
      assert.equal(inFlight, 0);
      const slow = await binder.dial(l.local, 1000);
      await slow.write(new Uint8Array([0x00, 0x83])); // the start of a ping: takes the slot
      for (let i = 0; i < 100 && inFlight === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(inFlight, 1);
      await rejectsKind(streamRequest(binder, l.local, ping, { timeoutMs: 2000 }), "empty");
      assert.equal(outcomes.at(-1)?.busy, true);
      await slow.close();
      for (let i = 0; i < 100 && inFlight === 1; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(inFlight, 0);
      assert.equal((await streamRequest(binder, l.local, ping, { timeoutMs: 2000 })).seqNo, 1);
      assert.equal(idle.closed, false);
      await idle.close();
    },
  );

  test("a dial nobody answers, and a silent acceptor, hit the deadline", T, async () => {
    const net = new MemoryStreamNetwork();
    const l = net.listen({ host: "10.0.0.1", port: 7946, onConnection: () => {} });
    cleanups.push(() => l.close());
    await assert.rejects(
      streamRequest(net.binder(), l.local, VECTOR_MESSAGE, { timeoutMs: 100 }),
      (e) => e instanceof StreamError && e.kind === "timeout",
    );
    await assert.rejects(
      streamRequest(net.binder(), { host: "10.0.0.9", port: 1 }, VECTOR_MESSAGE, {
        timeoutMs: 100,
      }),
      (e) => e instanceof StreamError && e.kind === "refused",
    );
  });
});
