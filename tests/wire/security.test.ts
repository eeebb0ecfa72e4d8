/**
 * Keyring, AES-GCM blobs (byte-exact against protocol.md §16.5), label headers and the packet
 * security layer (§3.1–3.3).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DecodeError } from "../../src/core/codec.ts";
import { decodePacket } from "../../src/wire/packet.ts";
import {
  decryptPayload,
  encryptedLength,
  encryptionOverhead,
  encryptPayload,
} from "../../src/wire/encryption.ts";
import { formatKey, Keyring, KeyringError, parseKey, validateKey } from "../../src/wire/keyring.ts";
import { addLabelHeader, encodeLabel, stripLabelHeader } from "../../src/wire/label.ts";
import { createPacketSecurity } from "../../src/wire/packet_security.ts";
import { assertDecodeError, concat, hex, toHex, utf8 } from "./_helpers.ts";

const T = { timeout: 20_000 };

const KEY = utf8("0123456789abcdef");
const NONCE = hex("00 01 02 03 04 05 06 07 08 09 0a 0b");
const PING = hex(`
  00 85
  a4 4e 6f 64 65 a6 6e 6f 64 65 2d 62
  a5 53 65 71 4e 6f 01
  aa 53 6f 75 72 63 65 41 64 64 72 a4 7f 00 00 01
  aa 53 6f 75 72 63 65 4e 6f 64 65 a6 6e 6f 64 65 2d 61
  aa 53 6f 75 72 63 65 50 6f 72 74 cd 1f 0a`);
const V1 = hex(`
  01 00 01 02 03 04 05 06 07 08 09 0a 0b fd ba 60 53 71 10 5e 90 86 49 63 7f ed f9 15 7e 65 a6 19
  95 06 19 19 24 02 1b 89 96 ae cf cf 1e fa 68 9f ee f1 44 cb a8 1f 55 c4 fb 30 02 39 44 c5 0c 66
  4a 51 5c 22 dc 51 c6 fd 16 24 17 8f 25 c2 3a 34 50 01 ae 7d a4 ba 90 c6 af eb ac 9f 6d 0b 11 67
  50 6d`);
const V0 = hex(`
  00 00 01 02 03 04 05 06 07 08 09 0a 0b fd ba 60 53 71 10 5e 90 86 49 63 7f ed f9 15 7e 65 a6 19
  95 06 19 19 24 02 1b 89 96 ae cf cf 1e fa 68 9f ee f1 44 cb a8 1f 55 c4 fb 30 02 39 44 c5 0c 66
  4a 51 5c 22 dc 51 c6 fd 16 24 17 8f 25 c2 3a 34 50 01 db 41 e5 95 e1 ab 9c 94 74 13 8e 6b 7d 26
  5f 62 ac f9 70 c3 43 e6 01 bf 4b b7 11`);
const LABEL_TAG = hex("64 fe cc c4 07 31 15 04 4a 64 bf a0 ba b7 ed 60");

async function rejectsKind(p: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof DecodeError && e.kind === kind);
}

describe("keyring", () => {
  test("validates key sizes with clear errors", T, () => {
    for (const n of [16, 24, 32]) validateKey(new Uint8Array(n));
    for (const n of [0, 1, 15, 17, 31, 33, 64]) {
      assert.throws(() => validateKey(new Uint8Array(n)), /16, 24 or 32 bytes/);
      assert.throws(() => new Keyring(new Uint8Array(n)), KeyringError);
    }
    assert.throws(() => new Keyring(KEY, [new Uint8Array(3)]), KeyringError);
  });

  test("add, use, remove; primary first; copies in and out", T, () => {
    const a = new Uint8Array(16).fill(1), b = new Uint8Array(24).fill(2);
    const c = new Uint8Array(32).fill(3);
    const ring = new Keyring(a, [b, b]);
    assert.equal(ring.size, 2);
    ring.add(c);
    ring.add(c); // no-op
    assert.deepEqual(ring.keys(), [a, b, c]);
    const g = ring.generation;
    ring.use(c);
    assert.deepEqual(ring.keys(), [c, a, b]);
    assert.deepEqual(ring.primary, c);
    assert.ok(ring.generation > g);
    assert.throws(() => ring.remove(c), /cannot remove the primary key/);
    ring.remove(a);
    ring.remove(a); // absent: no-op
    assert.deepEqual(ring.keys(), [c, b]);
    assert.throws(() => ring.use(a), /not on the keyring/);
    ring.keys()[0].fill(9); // a copy
    ring.primary.fill(9);
    assert.deepEqual(ring.primary, c);
    assert.ok(ring.has(b) && !ring.has(a));
  });

  test("base64 keys", T, () => {
    assert.deepEqual(parseKey("MDEyMzQ1Njc4OWFiY2RlZg=="), KEY);
    assert.equal(formatKey(KEY), "MDEyMzQ1Njc4OWFiY2RlZg==");
    assert.throws(() => parseKey("not base64!"), /base64/);
    assert.throws(() => parseKey("AAAA"), /16, 24 or 32/);
    const ring = Keyring.fromBase64(["MDEyMzQ1Njc4OWFiY2RlZg==", formatKey(new Uint8Array(32))]);
    assert.equal(ring.size, 2);
    assert.throws(() => Keyring.fromBase64([]), KeyringError);
  });
});

describe("encryption (protocol.md §16.5)", () => {
  const ring = new Keyring(KEY);

  test("version 1 and version 0 are byte-exact", T, async () => {
    assert.equal(toHex(await encryptPayload(ring, PING, { nonce: NONCE })), toHex(V1));
    assert.equal(
      toHex(await encryptPayload(ring, PING, { nonce: NONCE, version: 0 })),
      toHex(V0),
    );
    assert.deepEqual(await decryptPayload(ring, V1), PING);
    assert.deepEqual(await decryptPayload(ring, V0), PING);
    assert.equal(V1.length, encryptedLength(1, PING.length));
    assert.equal(V0.length, encryptedLength(0, PING.length));
    assert.equal(encryptionOverhead(1), 29);
    assert.equal(encryptionOverhead(0), 45);
  });

  test("label as AAD: same ciphertext, the vector's tag", T, async () => {
    const blob = await encryptPayload(ring, PING, { nonce: NONCE, aad: utf8("mylabel") });
    assert.equal(toHex(blob.subarray(0, V1.length - 16)), toHex(V1.subarray(0, V1.length - 16)));
    assert.equal(toHex(blob.subarray(V1.length - 16)), toHex(LABEL_TAG));
    assert.deepEqual(await decryptPayload(ring, blob, utf8("mylabel")), PING);
    await rejectsKind(decryptPayload(ring, blob), "decrypt-failed");
  });

  test("random nonces; every key is tried in order", T, async () => {
    const other = new Uint8Array(32).fill(7);
    const sender = new Keyring(other);
    const a = await encryptPayload(sender, PING);
    const b = await encryptPayload(sender, PING);
    assert.notDeepEqual(a, b);
    await rejectsKind(decryptPayload(ring, a), "decrypt-failed");
    const receiver = new Keyring(KEY, [new Uint8Array(24), other]);
    assert.deepEqual(await decryptPayload(receiver, a), PING);
  });

  test("hostile blobs give decrypt-failed", T, async () => {
    for (
      const blob of [
        new Uint8Array(0),
        new Uint8Array([2, ...new Uint8Array(40)]),
        V1.subarray(0, 28),
        V0.subarray(0, 44),
        V1.map((b, i) => i === 50 ? b ^ 1 : b),
        V1.map((b, i) => i === V1.length - 1 ? b ^ 1 : b),
      ]
    ) await rejectsKind(decryptPayload(ring, blob), "decrypt-failed");
    // version-0 blob whose (authenticated) padding byte is out of range
    const bad = await encryptPayload(ring, new Uint8Array([8, 0]), { nonce: NONCE }); // v1, last byte 0
    const asV0 = bad.slice();
    asV0[0] = 0;
    await rejectsKind(decryptPayload(ring, concat(asV0, new Uint8Array(16))), "decrypt-failed");
  });

  test("AES-192 and AES-256 round-trip", T, async () => {
    for (const n of [24, 32]) {
      const r = new Keyring(crypto.getRandomValues(new Uint8Array(n)));
      for (const version of [0, 1] as const) {
        for (const len of [0, 1, 15, 16, 17, 1400]) {
          const pt = crypto.getRandomValues(new Uint8Array(len));
          const blob = await encryptPayload(r, pt, { version });
          assert.equal(blob.length, encryptedLength(version, len));
          assert.deepEqual(await decryptPayload(r, blob), pt);
        }
      }
    }
  });
});

describe("label header", () => {
  test("encode, strip, validate", T, () => {
    const label = encodeLabel("mylabel");
    const framed = addLabelHeader(label, PING);
    assert.equal(toHex(framed.subarray(0, 9)), "f4 07 6d 79 6c 61 62 65 6c");
    const { label: got, rest } = stripLabelHeader(framed);
    assert.deepEqual(got, label);
    assert.deepEqual(rest, PING);
    assert.deepEqual(stripLabelHeader(PING).rest, PING);
    assert.equal(addLabelHeader(encodeLabel(""), PING), PING);
    assert.throws(() => encodeLabel("x".repeat(256)), RangeError);
    assert.equal(encodeLabel("x".repeat(255)).length, 255);
    assertDecodeError(() => stripLabelHeader(new Uint8Array([0xf4])), "bad-label");
    assertDecodeError(() => stripLabelHeader(new Uint8Array([0xf4, 0, 8])), "bad-label");
    assertDecodeError(() => stripLabelHeader(new Uint8Array([0xf4, 5, 1, 2])), "bad-label");
  });
});

describe("packet security", () => {
  const keyring = new Keyring(KEY);

  test("inactive: identity, no overhead", T, async () => {
    const sec = createPacketSecurity();
    assert.equal(sec.active, false);
    assert.equal(sec.overhead, 0);
    assert.equal(await sec.seal(PING), PING);
    assert.equal(await sec.open(PING), PING);
  });

  test("encrypted: what Go 0.2.2 sends decodes; overhead is exact for v1", T, async () => {
    const sec = createPacketSecurity({ keyring });
    assert.equal(sec.overhead, 29);
    assert.deepEqual(await sec.open(V1), PING);
    assert.deepEqual(await sec.open(V0), PING);
    const sealed = await sec.seal(PING);
    assert.equal(sealed.length, PING.length + sec.overhead);
    assert.equal(sealed[0], 1);
    assert.deepEqual(decodePacket(await sec.open(sealed)), decodePacket(PING));
    assert.equal(createPacketSecurity({ keyring, encryptionVersion: 0 }).overhead, 45);
    const v0 = await createPacketSecurity({ keyring, encryptionVersion: 0 }).seal(PING);
    assert.equal(v0[0], 0);
    assert.deepEqual(await sec.open(v0), PING);
  });

  test(
    "plaintext to a verifying node is dropped; with verifyIncoming=false accepted",
    T,
    async () => {
      await rejectsKind(createPacketSecurity({ keyring }).open(PING), "decrypt-failed");
      const lax = createPacketSecurity({ keyring, verifyIncoming: false });
      assert.deepEqual(await lax.open(PING), PING);
      assert.deepEqual(await lax.open(V1), PING); // still decrypts what it can
      const quiet = createPacketSecurity({ keyring, verifyOutgoing: false });
      assert.equal(quiet.overhead, 0);
      assert.equal(await quiet.seal(PING), PING);
    },
  );

  test("wrong key is dropped; a rotated keyring decrypts old and new", T, async () => {
    const other = new Keyring(new Uint8Array(16).fill(5));
    const fromOther = await createPacketSecurity({ keyring: other }).seal(PING);
    const mine = createPacketSecurity({ keyring });
    await rejectsKind(mine.open(fromOther), "decrypt-failed");
    const rotating = new Keyring(KEY);
    const sec = createPacketSecurity({ keyring: rotating });
    rotating.add(other.primary);
    assert.deepEqual(await sec.open(fromOther), PING);
    rotating.use(other.primary);
    assert.deepEqual(
      await createPacketSecurity({ keyring: other }).open(await sec.seal(PING)),
      PING,
    );
  });

  test("labels: outermost, AAD when encrypting, mismatches dropped", T, async () => {
    const labelled = createPacketSecurity({ keyring, label: "mylabel" });
    assert.equal(labelled.overhead, 29 + 9);
    const sealed = await labelled.seal(PING);
    assert.equal(toHex(sealed.subarray(0, 9)), "f4 07 6d 79 6c 61 62 65 6c");
    assert.deepEqual(await labelled.open(sealed), PING);
    // the vector: label header + v1 blob with the label-AAD tag
    const vector = concat(
      hex("f4 07 6d 79 6c 61 62 65 6c"),
      V1.subarray(0, V1.length - 16),
      LABEL_TAG,
    );
    assert.deepEqual(await labelled.open(vector), PING);
    // a different label, no label, a labelled packet to an unlabelled node
    const other = createPacketSecurity({ keyring, label: "other" });
    await rejectsKind(other.open(sealed), "bad-label");
    await rejectsKind(labelled.open(V1), "bad-label");
    await rejectsKind(createPacketSecurity({ keyring }).open(sealed), "bad-label");
    await rejectsKind(createPacketSecurity().open(sealed), "bad-label");
    // plaintext labels
    const plain = createPacketSecurity({ label: "mylabel" });
    assert.equal(plain.overhead, 9);
    const p = await plain.seal(PING);
    assert.deepEqual(p, addLabelHeader(encodeLabel("mylabel"), PING));
    assert.deepEqual(await plain.open(p), PING);
    await rejectsKind(plain.open(PING), "bad-label");
  });

  test("skipInboundLabelCheck accepts unlabelled input (AAD = our label)", T, async () => {
    const sec = createPacketSecurity({ label: "mylabel", skipInboundLabelCheck: true });
    assert.deepEqual(await sec.open(PING), PING);
    await rejectsKind(sec.open(addLabelHeader(encodeLabel("x"), PING)), "bad-label");
    const enc = createPacketSecurity({ keyring, label: "mylabel", skipInboundLabelCheck: true });
    const bareWithLabelTag = concat(V1.subarray(0, V1.length - 16), LABEL_TAG);
    assert.deepEqual(await enc.open(bareWithLabelTag), PING);
    await rejectsKind(enc.open(V1), "decrypt-failed");
  });

  test("open rejects only with DecodeError, even when the keyring fails", T, async () => {
    class BrokenRing extends Keyring {
      override cryptoKeys(): Promise<CryptoKey[]> {
        return Promise.reject(new TypeError("import failed"));
      }
    }
    const broken = new BrokenRing(KEY);
    await rejectsKind(decryptPayload(broken, V1), "decrypt-failed");
    await rejectsKind(
      createPacketSecurity({ keyring: broken, label: "l" }).open(
        addLabelHeader(encodeLabel("l"), V1),
      ),
      "decrypt-failed",
    );
    const lax = createPacketSecurity({ keyring: broken, verifyIncoming: false });
    assert.deepEqual(await lax.open(V1), V1); // used as plaintext, as for any failed decrypt
  });

  test("options are validated", T, () => {
    assert.throws(() => createPacketSecurity({ label: "é".repeat(200) }), RangeError);
    assert.throws(
      () => createPacketSecurity({ keyring, encryptionVersion: 2 as 0 }),
      RangeError,
    );
  });
});
