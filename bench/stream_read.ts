/**
 * Reading a stream message off a connection that delivers it in small chunks: push/pulls of
 * 6 MB and 20 MiB, and a hostile one whose single node state is one big msgpack array (the
 * shape that made re-decoding from the object's start quadratic). No sockets: a connection
 * stub hands out the chunks. Prints milliseconds, MB/s and the longest wait between chunks;
 * then, for an encrypted 20 MiB push/pull arriving in 64 KiB chunks one per event-loop turn,
 * the longest the event loop was kept from running a 1 ms timer.
 *
 *   deno run -A bench/stream_read.ts [--chunk 1024] [--hostile 1048576]
 *   bun bench/stream_read.ts
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import type { NodeState } from "../src/core/messages.ts";
import type { StreamConn } from "../src/wire/conn.ts";
import { Keyring } from "../src/wire/keyring.ts";
import { encodeStreamMessage, readStreamMessage } from "../src/wire/stream.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    chunk: { type: "string", default: "1024" },
    hostile: { type: "string", default: String(1024 * 1024) },
  },
});
const CHUNK = Number(values.chunk);
const HOSTILE = Number(values.hostile);

/** A connection that returns `bytes` in `size`-byte chunks, one per read, then EOF. */
function chunked(bytes: Uint8Array, size: number, gaps: number[]): StreamConn {
  let at = 0;
  let last = performance.now();
  return {
    remote: { host: "127.0.0.1", port: 1 },
    closed: false,
    read: () => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
      if (at >= bytes.length) return Promise.resolve(null);
      const c = bytes.slice(at, at + size);
      at += size;
      return Promise.resolve(c);
    },
    write: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

/** Like {@linkcode chunked}, but each chunk arrives in its own event-loop turn. */
function paced(bytes: Uint8Array, size: number): StreamConn {
  const conn = chunked(bytes, size, []);
  return { ...conn, read: () => new Promise((r) => setTimeout(r, 0)).then(conn.read) };
}

/** The longest gap between ticks of a 1 ms interval while `op` runs. */
async function longestStall(op: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 1);
  try {
    await op();
  } finally {
    clearInterval(timer);
  }
  return Math.max(worst, performance.now() - last);
}

/** A push/pull of at most `bytes` bytes of ordinary node states. */
async function pushPull(bytes: number, keyring?: Keyring): Promise<Uint8Array> {
  const states: NodeState[] = [];
  const vsn = new Uint8Array([1, 5, 2, 0, 0, 0]);
  for (let i = 0; states.length * 115 < bytes; i++) {
    states.push({
      name: `node-${i}`,
      addr: new Uint8Array([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]),
      port: 7946,
      meta: new Uint8Array(40),
      incarnation: i,
      state: 0,
      vsn,
    });
  }
  const message = { type: "pushPull" as const, join: false, states, userState: new Uint8Array(0) };
  for (;;) {
    const plain = await encodeStreamMessage(message, { side: "dialer" });
    if (plain.length <= bytes) {
      return keyring ? await encodeStreamMessage(message, { side: "dialer", keyring }) : plain;
    }
    states.length -= Math.ceil((plain.length - bytes) / 100);
  }
}

/** A push/pull whose one node state carries `n` bytes of Meta as an array of `cc xx` ints. */
function hostile(n: number): Uint8Array {
  const out: number[] = [];
  const str = (s: string) => out.push(0xa0 | s.length, ...new TextEncoder().encode(s));
  out.push(0x06, 0x83);
  str("Join");
  out.push(0xc2);
  str("Nodes");
  out.push(1);
  str("UserStateLen");
  out.push(0, 0x82);
  str("Addr");
  out.push(0xa4, 10, 0, 0, 1);
  str("Meta");
  out.push(0xdd, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  const head = Uint8Array.from(out);
  const bytes = new Uint8Array(head.length + 2 * n);
  bytes.set(head);
  for (let i = head.length; i < bytes.length; i += 2) bytes[i] = 0xcc;
  return bytes;
}

async function run(label: string, bytes: Uint8Array): Promise<void> {
  const gaps: number[] = [];
  const t = performance.now();
  const m = await readStreamMessage(chunked(bytes, CHUNK, gaps), { side: "acceptor" });
  const ms = performance.now() - t;
  const mb = bytes.length / 1e6;
  console.log(
    `${label.padEnd(34)} ${mb.toFixed(1).padStart(5)} MB  ${ms.toFixed(0).padStart(6)} ms  ` +
      `${(mb / (ms / 1000)).toFixed(1).padStart(6)} MB/s  longest gap ${
        Math.max(...gaps).toFixed(1)
      } ms  (${m.type === "pushPull" ? m.states.length : 0} states)`,
  );
}

console.log(`chunks of ${CHUNK} bytes, ${"Deno" in globalThis ? "deno" : "bun"}`);
await run("push/pull 6 MB", await pushPull(6_000_000));
await run("push/pull 20 MiB", await pushPull(20 * 1024 * 1024));
await run(`hostile: one ${HOSTILE}-int array`, hostile(HOSTILE));

const keyring = new Keyring(new Uint8Array(16).fill(7));
const secret = await pushPull(20 * 1024 * 1024 - 1000, keyring);
const stall = await longestStall(() =>
  readStreamMessage(paced(secret, 64 * 1024), { side: "acceptor", keyring })
);
console.log(
  `encrypted push/pull 20 MiB, 64 KiB chunks: longest event-loop stall ${stall.toFixed(0)} ms`,
);
