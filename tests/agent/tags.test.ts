/**
 * `--meta` tags: a msgpack map of strings in memberlist's dialect (what serf writes), checked
 * byte for byte and against an independent msgpack implementation.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { decode, encode } from "@msgpack/msgpack";
import { decodeTags, encodeTags, parseTagArgs, TagError } from "../../src/node/tags.ts";
import { META_MAX_SIZE } from "../../src/core/config.ts";

const T = { timeout: 10_000 };
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

test("bytes: a fixmap of raw strings, keys sorted", T, () => {
  assert.equal(
    hex(encodeTags({ role: "web", dc: "eu" })),
    "82 a2 64 63 a2 65 75 a4 72 6f 6c 65 a3 77 65 62",
  );
  assert.equal(encodeTags({}).length, 0, "no tags: no metadata, as serf");
  // 32+ byte strings use str16 (da), never str8 (d9), as Go's go-msgpack writes them.
  const long = encodeTags({ k: "x".repeat(40) });
  assert.equal(hex(long.subarray(0, 6)), "81 a1 6b da 00 28");
});

test("an independent msgpack library reads them as a map of strings, and back", T, () => {
  const tags = { role: "web", "zone": "eu-1a", "ünïcode": "✓ yes", empty: "", eq: "a=b" };
  assert.deepEqual(decode(encodeTags(tags)), tags);
  // What another implementation writes (str8, any key order) decodes too.
  assert.deepEqual(decodeTags(encode({ b: "2", a: "1" })), { a: "1", b: "2" });
  assert.deepEqual(decodeTags(encodeTags(tags)), tags);
});

test("metadata that is not a tag map decodes as undefined", T, () => {
  assert.deepEqual(decodeTags(new Uint8Array(0)), {});
  assert.equal(decodeTags(new TextEncoder().encode("web")), undefined);
  assert.equal(decodeTags(new Uint8Array([0xc0])), undefined, "nil is not a map");
  assert.equal(decodeTags(encode({ port: 80 })), undefined, "non-string value");
  assert.equal(decodeTags(encode([1, 2])), undefined);
  const trailing = new Uint8Array([...encodeTags({ a: "b" }), 0x01]);
  assert.equal(decodeTags(trailing), undefined);
  assert.equal(decodeTags(new Uint8Array([0x81, 0xa1])), undefined, "truncated");
});

test("the 512-byte metadata limit", T, () => {
  assert.throws(() => encodeTags({ big: "x".repeat(META_MAX_SIZE) }), TagError);
  assert.ok(encodeTags({ ok: "x".repeat(400) }).length <= META_MAX_SIZE);
});

test("parseTagArgs: KEY=VALUE, split at the first '='", T, () => {
  assert.deepEqual(parseTagArgs(["role=web", "url=http://x/?a=b", "empty=", "role=db"]), {
    role: "db",
    url: "http://x/?a=b",
    empty: "",
  });
  assert.throws(() => parseTagArgs(["novalue"]), TagError);
  assert.throws(() => parseTagArgs(["=v"]), TagError);
});
