/**
 * Real-socket tests for the UDP adapter of whichever runtime runs them (Deno or Bun), over
 * 127.0.0.1. Run with `deno test -A tests/transport/` and `bun test tests/transport/`.
 */

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { PeerAddress } from "../../src/core/address.ts";
import {
  AddressInUseError,
  type DatagramBinder,
  type DatagramTransport,
  detectDatagramBinder,
  runtimeName,
} from "../../src/transport/mod.ts";

const TIMEOUT = { timeout: 10_000 };
const HOST = "127.0.0.1";

interface Received {
  bytes: Uint8Array;
  from: PeerAddress;
}

interface Socket {
  transport: DatagramTransport;
  received: Received[];
}

const open: DatagramTransport[] = [];
after(async () => {
  await Promise.all(open.map((t) => t.close()));
});

let binderPromise: Promise<DatagramBinder> | undefined;
function binder(): Promise<DatagramBinder> {
  binderPromise ??= detectDatagramBinder();
  return binderPromise;
}

/** Bind a socket on 127.0.0.1 that records what it receives; closed after all tests. */
async function socket(port = 0): Promise<Socket> {
  const received: Received[] = [];
  const transport = await (await binder()).bind({
    host: HOST,
    port,
    onDatagram: (bytes, from) => received.push({ bytes, from }),
  });
  open.push(transport);
  return { transport, received };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `done()` holds; fail after `ms`. */
async function waitFor(done: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

test("the adapter matches the runtime", TIMEOUT, async () => {
  assert.equal((await binder()).name, runtimeName());
});

test("two sockets exchange datagrams both ways with correct from", TIMEOUT, async () => {
  const a = await socket(), b = await socket();
  assert.equal(a.transport.local.host, HOST);
  assert.ok(a.transport.local.port > 0 && a.transport.local.port !== b.transport.local.port);

  a.transport.send(b.transport.local, new Uint8Array([1, 2, 3]));
  b.transport.send(a.transport.local, new Uint8Array([4, 5]));
  await waitFor(() => a.received.length === 1 && b.received.length === 1, "both datagrams");

  assert.deepEqual(b.received[0].bytes, new Uint8Array([1, 2, 3]));
  assert.deepEqual(b.received[0].from, a.transport.local);
  assert.deepEqual(a.received[0].bytes, new Uint8Array([4, 5]));
  assert.deepEqual(a.received[0].from, b.transport.local);
});

test("a 60 000-byte datagram arrives whole", TIMEOUT, async () => {
  const a = await socket(), b = await socket();
  const big = new Uint8Array(60_000).map((_, i) => (i * 7) & 0xff);
  a.transport.send(b.transport.local, big);
  await waitFor(() => b.received.length === 1, "the big datagram");
  assert.equal(b.received[0].bytes.length, 60_000);
  assert.deepEqual(b.received[0].bytes, big);
});

test("received bytes are not reused between datagrams", TIMEOUT, async () => {
  const a = await socket(), b = await socket();
  for (let i = 0; i < 5; i++) a.transport.send(b.transport.local, new Uint8Array([i, i, i]));
  await waitFor(() => b.received.length === 5, "five datagrams");
  assert.deepEqual(b.received.map((r) => [...r.bytes]), [0, 1, 2, 3, 4].map((i) => [i, i, i]));
});

test("200 datagrams sent in one tick arrive in order", TIMEOUT, async () => {
  const a = await socket(), b = await socket();
  for (let i = 0; i < 200; i++) {
    a.transport.send(b.transport.local, new Uint8Array([i >> 8, i & 0xff]));
  }
  await waitFor(() => b.received.length === 200, "200 datagrams");
  const seqs = b.received.map((r) => (r.bytes[0] << 8) | r.bytes[1]);
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i));
});

test("stats count packets and bytes", TIMEOUT, async () => {
  const a = await socket(), b = await socket();
  for (const n of [10, 20, 30]) a.transport.send(b.transport.local, new Uint8Array(n));
  await waitFor(() => b.received.length === 3, "three datagrams");
  await waitFor(() => a.transport.stats.packetsOut === 3, "send stats");
  assert.deepEqual(
    { ...a.transport.stats, receiveErrors: undefined },
    {
      packetsOut: 3,
      bytesOut: 60,
      packetsIn: 0,
      bytesIn: 0,
      sendErrors: 0,
      receiveErrors: undefined,
    },
  );
  assert.equal(b.transport.stats.packetsIn, 3);
  assert.equal(b.transport.stats.bytesIn, 60);
  assert.equal(b.transport.stats.packetsOut, 0);
});

test("sending to a closed port neither throws nor loses later datagrams", TIMEOUT, async () => {
  const a = await socket(), b = await socket(), gone = await socket();
  const closedPort = gone.transport.local;
  await gone.transport.close();

  // Each refused datagram may leave an ICMP error pending on the socket (Bun reports it on
  // the next send): the datagram after it, to a live peer, must still go out.
  for (let i = 0; i < 5; i++) {
    a.transport.send(closedPort, new Uint8Array(8));
    a.transport.send(b.transport.local, new Uint8Array([i]));
    await sleep(10);
  }
  await waitFor(() => b.received.length === 5, "datagrams to the live peer");
  assert.deepEqual(b.received.map((r) => r.bytes[0]), [0, 1, 2, 3, 4]);
  assert.equal(a.transport.stats.packetsOut, 10);
  assert.equal(a.transport.stats.sendErrors, 0);

  b.transport.send(a.transport.local, new Uint8Array([42]));
  await waitFor(() => a.received.length === 1, "a reply to the socket that got ICMP errors");
});

test("oversize and after-close sends are counted, not thrown", TIMEOUT, async () => {
  const a = await socket(), b = await socket();
  a.transport.send(b.transport.local, new Uint8Array(70_000));
  await waitFor(() => a.transport.stats.sendErrors === 1, "the oversize send error");

  await a.transport.close();
  a.transport.send(b.transport.local, new Uint8Array(4));
  await sleep(20);
  assert.equal(a.transport.stats.sendErrors, 2);
  assert.equal(a.transport.stats.packetsOut, 0);
  assert.equal(b.received.length, 0);
});

test("a datagram sent just before close() still goes out", TIMEOUT, async () => {
  const a = await socket(), b = await socket();
  a.transport.send(b.transport.local, new Uint8Array([7, 7]));
  await a.transport.close();
  await waitFor(() => b.received.length === 1, "the farewell datagram");
  assert.deepEqual(b.received[0].bytes, new Uint8Array([7, 7]));
  assert.equal(a.transport.stats.packetsOut, 1);
});

test("a throwing handler is counted and the socket keeps receiving", TIMEOUT, async () => {
  const a = await socket();
  const seen: number[] = [];
  const b = await (await binder()).bind({
    host: HOST,
    port: 0,
    onDatagram: (bytes) => {
      seen.push(bytes[0]);
      if (bytes[0] === 1) throw new Error("handler bug");
    },
  });
  open.push(b);
  a.transport.send(b.local, new Uint8Array([1]));
  a.transport.send(b.local, new Uint8Array([2]));
  await waitFor(() => seen.length === 2, "both datagrams");
  assert.deepEqual(seen, [1, 2]);
  assert.equal((b.stats as { receiveErrors?: number }).receiveErrors, 1);
});

test("close() twice (and concurrently) is fine", TIMEOUT, async () => {
  const a = await socket();
  await Promise.all([a.transport.close(), a.transport.close()]);
  await a.transport.close();
});

test("the handler is not called after close resolves", TIMEOUT, async () => {
  const a = await socket();
  let closed = false, late = 0, early = 0;
  const b = await (await binder()).bind({
    host: HOST,
    port: 0,
    onDatagram: () => closed ? late++ : early++,
  });
  open.push(b);
  for (let i = 0; i < 100; i++) a.transport.send(b.local, new Uint8Array(100));
  await sleep(1);
  await b.close();
  closed = true;
  for (let i = 0; i < 10; i++) a.transport.send(b.local, new Uint8Array(100));
  await sleep(100);
  assert.equal(late, 0, `handler called ${late} times after close (${early} before)`);
});

test("binding a port in use rejects with AddressInUseError", TIMEOUT, async () => {
  const a = await socket();
  await assert.rejects(socket(a.transport.local.port), (error: unknown) => {
    assert.ok(error instanceof AddressInUseError, `got ${error}`);
    assert.match(error.message, new RegExp(`:${a.transport.local.port} is already in use`));
    return true;
  });
});

/** Run a fixture script in a fresh process of this same runtime. */
function runFixture(name: string): Promise<{ code: number | null; stdout: string }> {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const args = runtimeName() === "deno" ? ["run", "-A", "--unstable-net", script] : [script];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: 8000 }, (error, stdout, stderr) => {
      if (error && error.killed) {
        reject(new Error(`${name} did not exit by itself within 8 s`));
      } else if (error && typeof error.code !== "number") {
        reject(error);
      } else {
        resolve({ code: error ? Number(error.code) : 0, stdout: `${stdout}${stderr}` });
      }
    });
  });
}

test("an open idle socket does not keep the process alive", { timeout: 15_000 }, async () => {
  const { code, stdout } = await runFixture("idle_socket.ts");
  assert.equal(code, 0, stdout);
  assert.match(stdout, new RegExp(`^bound ${runtimeName()} \\d+`));
});

test("a process exits after closing its sockets", { timeout: 15_000 }, async () => {
  const { code, stdout } = await runFixture("close_then_exit.ts");
  assert.equal(code, 0, stdout);
  assert.match(stdout, new RegExp(`^closed ${runtimeName()} after 5 bytes`));
});
