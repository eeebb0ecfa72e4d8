/**
 * Reflection over real UDP on loopback: pings whose `SourceAddr` names a victim (another
 * socket, on 127.0.0.2) must not make a live node send the victim more than 3× the bytes the
 * attacker sent. The announce (a ping to no name) gets one challenge ping at the claimed
 * address; its table goes only to the datagram's own source (docs/security.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ShoalNode } from "../../mod.ts";
import { ipToBytes } from "../../src/core/address.ts";
import { allSeeAlive, startCluster, waitFor } from "../node/helpers.ts";
import { Attacker, packet, ping, sleep } from "./_attacker.ts";

const T = { timeout: 60_000 };
const REQUESTS = 40;

const at = (n: ShoalNode) => ({ host: "127.0.0.1", port: n.address.port });

/** Send `REQUESTS` copies of `bytes` to `to`, 25 ms apart, then let the answers arrive. */
async function attack(attacker: Attacker, to: { host: string; port: number }, bytes: Uint8Array) {
  for (let i = 0; i < REQUESTS; i++) {
    await attacker.send(to, bytes);
    await sleep(25);
  }
  await sleep(1500);
  return REQUESTS * bytes.length;
}

test("pings with a victim's SourceAddr reflect at most 3× their bytes", T, async () => {
  const nodes: ShoalNode[] = [];
  const sockets: Attacker[] = [];
  try {
    nodes.push(...await startCluster(4, "rf"));
    const [a, b] = nodes;
    await waitFor(() => allSeeAlive(nodes, nodes.map((n) => n.name)), 10_000, "the cluster");
    const attacker = await Attacker.bind("127.0.0.1");
    const victim = await Attacker.bind("127.0.0.2");
    sockets.push(attacker, victim);
    const spoof = { ...victim.address, name: "mallory" };
    // Give the node rumours to piggy-back: a metadata update spreading.
    void b.updateMeta(new Uint8Array(200).fill(0x61)).catch(() => {});

    // The announce: a ping to no name, answer wanted at the victim's address.
    const announce = packet([ping(1, "", spoof)]);
    const challenges = a.stats().core.challenges;
    const sent = await attack(attacker, at(a), announce);
    const reflected = victim.bytesIn;
    console.log(
      `reflection: announce of ${announce.length} B ×${REQUESTS} → victim got ` +
        `${victim.packetsIn} datagrams, ${reflected} B (×${(reflected / sent).toFixed(2)})`,
    );
    assert.ok(reflected <= 3 * sent, `victim got ${reflected} B for ${sent} B sent`);
    assert.ok(a.stats().core.challenges > challenges, "announces answered with a challenge");
    assert.ok(
      victim.messages().every((m) => m.type === "ping"),
      "the victim got bare challenge pings only",
    );

    // A plain ping to the node's name, ack wanted at the victim: the ack goes bare.
    const before = victim.bytesIn;
    const plain = packet([ping(2, a.name, spoof)]);
    const sentPlain = await attack(attacker, at(a), plain);
    const reflectedPlain = victim.bytesIn - before;
    console.log(
      `reflection: plain ping of ${plain.length} B ×${REQUESTS} → victim got ` +
        `${reflectedPlain} B (×${(reflectedPlain / sentPlain).toFixed(2)})`,
    );
    assert.ok(reflectedPlain <= 3 * sentPlain, `${reflectedPlain} B for ${sentPlain} B`);

    // An indirect probe of the victim, with the victim as requester too: a ping and a nack.
    const beforeRelay = victim.bytesIn;
    const relay = packet([{
      type: "indirectPing",
      seqNo: 4,
      target: ipToBytes(victim.address.host),
      port: victim.address.port,
      node: "victim",
      nack: true,
      sourceAddr: ipToBytes(victim.address.host),
      sourcePort: victim.address.port,
      sourceNode: "mallory",
    }]);
    const sentRelay = await attack(attacker, at(a), relay);
    const reflectedRelay = victim.bytesIn - beforeRelay;
    console.log(
      `reflection: indirect ping of ${relay.length} B ×${REQUESTS} → victim got ` +
        `${reflectedRelay} B (×${(reflectedRelay / sentRelay).toFixed(2)})`,
    );
    assert.ok(reflectedRelay <= 3 * sentRelay, `${reflectedRelay} B for ${sentRelay} B`);

    // Control: the same announce asking to be answered at its own source gets the table,
    // which is more than 3× the request: the bound above is not met by accident.
    const self = packet([ping(3, "", { ...attacker.address, name: "mallory" })]);
    const gotBefore = attacker.bytesIn;
    await attacker.send(at(a), self);
    await waitFor(() => attacker.bytesIn - gotBefore > 3 * self.length, 5000, "the table feed");
    const names = attacker.messages().filter((m) => m.type === "alive").map((m) => m.node);
    assert.ok(names.includes(b.name), "the feed carries the table");
    assert.equal(a.stats().internalErrors, 0);
  } finally {
    await Promise.all(sockets.map((s) => s.close()));
    await Promise.all(nodes.map((n) => n.close()));
  }
});
