/** fast-check generators for wire messages, in the canonical form the decoder returns. */

import fc from "fast-check";
import type { Message } from "../../src/core/messages.ts";

const U32 = 0xffff_ffff;

/** Node names: mostly short ASCII, sometimes long or non-ASCII (never lone surrogates). */
export const arbName: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 30, maxLength: 300 }) },
);

const nonEmptyName = arbName.filter((s) => s.length > 0);
/** 4 or 16 raw IP bytes. */
export const arbIp: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const seqNo = fc.nat({ max: U32 });
const port = fc.nat({ max: 0xffff });
const bytes = (max: number) => fc.uint8Array({ maxLength: max });

const ping: fc.Arbitrary<Message> = fc.record({
  type: fc.constant("ping" as const),
  seqNo,
  node: arbName,
  sourceAddr: arbIp,
  sourcePort: fc.integer({ min: 1, max: 0xffff }),
  sourceNode: nonEmptyName,
}, { requiredKeys: ["type", "seqNo", "node"], noNullPrototype: true });

const indirectPing: fc.Arbitrary<Message> = fc.record({
  type: fc.constant("indirectPing" as const),
  seqNo,
  target: arbIp,
  port,
  node: arbName,
  nack: fc.boolean(),
  sourceAddr: arbIp,
  sourcePort: fc.integer({ min: 1, max: 0xffff }),
  sourceNode: nonEmptyName,
}, { requiredKeys: ["type", "seqNo", "target", "port", "node", "nack"], noNullPrototype: true });

const ack: fc.Arbitrary<Message> = fc.record({
  type: fc.constant("ack" as const),
  seqNo,
  payload: fc.option(bytes(300), { nil: null }),
}, { noNullPrototype: true });

const nack: fc.Arbitrary<Message> = fc.record({ type: fc.constant("nack" as const), seqNo }, {
  noNullPrototype: true,
});

const rumour = <T extends "suspect" | "dead">(type: T) =>
  fc.record({ type: fc.constant(type), incarnation: seqNo, node: arbName, from: arbName }, {
    noNullPrototype: true,
  });

const alive: fc.Arbitrary<Message> = fc.record({
  type: fc.constant("alive" as const),
  incarnation: seqNo,
  node: arbName,
  addr: arbIp,
  port,
  meta: fc.option(bytes(512), { nil: null }),
  vsn: fc.oneof(
    { weight: 9, arbitrary: fc.uint8Array({ minLength: 6, maxLength: 6 }) },
    { weight: 1, arbitrary: fc.constant(new Uint8Array(0)) },
  ),
}, { noNullPrototype: true });

const user: fc.Arbitrary<Message> = fc.record({
  type: fc.constant("user" as const),
  payload: bytes(400),
}, { noNullPrototype: true });

/** Any packet message, canonical (what decode(encode(m)) returns unchanged). */
export const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  ping,
  indirectPing,
  ack,
  nack,
  rumour("suspect"),
  rumour("dead"),
  alive,
  user,
);
