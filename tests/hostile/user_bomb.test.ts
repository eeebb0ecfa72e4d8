/**
 * User-message bomb over real UDP on loopback: a datagram that would decode to more than 512
 * messages (nested compounds, or compressed) is dropped whole and counted as
 * `too-many-parts`; the application receives nothing from it. A packet of exactly 512 is
 * delivered, so the limit is where it is said to be (docs/security.md).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createNode, type ShoalNode } from "../../mod.ts";
import { encodeCompress } from "../../src/wire/mod.ts";
import { FAST, waitFor } from "../node/helpers.ts";
import { Attacker, sleep, userBomb } from "./_attacker.ts";

const T = { timeout: 60_000 };

test("a packet of more than 512 messages is dropped whole and counted", T, async () => {
  let node: ShoalNode | undefined;
  let attacker: Attacker | undefined;
  try {
    node = await createNode({ name: "ub", bind: "127.0.0.1:0", config: FAST });
    attacker = await Attacker.bind();
    const to = { host: "127.0.0.1", port: node.address.port };
    let delivered = 0;
    node.onMessage(() => void delivered++);
    const dropped = () => node!.stats().core.decodeErrors["too-many-parts"] ?? 0;

    // 127 compounds of 127 user messages (16,129), compressed; and 57 × 9 = 513 plain.
    const compressed = encodeCompress(userBomb(127, 127));
    const plain = userBomb(57, 9);
    await attacker.send(to, compressed);
    await attacker.send(to, plain);
    await waitFor(() => dropped() >= 2, 5000, "both bombs dropped");
    await sleep(300);
    assert.equal(delivered, 0);
    assert.equal(node.stats().core.userMessages, 0);
    console.log(
      `user bomb: ${compressed.length} B compressed (16129 messages) and ${plain.length} B ` +
        `plain (513) dropped as too-many-parts: ${dropped()}; delivered ${delivered}`,
    );

    // At the limit: 64 × 8 = 512 messages arrive.
    await attacker.send(to, userBomb(64, 8));
    await waitFor(() => delivered === 512, 5000, "512 messages delivered");
    assert.equal(dropped(), 2);
    assert.equal(node.stats().internalErrors, 0);
  } finally {
    await attacker?.close();
    await node?.close();
  }
});
