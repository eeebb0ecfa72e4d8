/** Shared helpers for the wire tests. */

import assert from "node:assert/strict";
import { DecodeError, type DecodeErrorKind } from "../../src/core/codec.ts";

/** Parse a spaced hex dump ("00 82 a4 ...") into bytes. */
export function hex(dump: string): Uint8Array {
  const clean = dump.replace(/\s+/g, "");
  assert.equal(clean.length % 2, 0, "odd hex length");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Format bytes as a spaced hex dump. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
}

/** Concatenate byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** UTF-8 encode. */
export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Assert that `fn` throws a DecodeError of `kind`. */
export function assertDecodeError(fn: () => unknown, kind: DecodeErrorKind): void {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DecodeError, `expected DecodeError, got ${e}`);
    assert.equal(e.kind, kind, `kind: ${e.message}`);
    return;
  }
  assert.fail(`expected DecodeError(${kind}), nothing thrown`);
}
