/**
 * Private helpers of the serf layer: msgpack arrays (the wire dialect's writer and reader
 * cover maps, strings, bytes and integers), and a bounded async channel.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import type { Reader, Writer } from "../wire/msgpack.ts";

/** Write an array header for `n` items (fixarray, array16, array32), as go-msgpack does. */
export function arrayHeader(w: Writer, n: number): void {
  if (n < 16) w.byte(0x90 | n);
  else if (n <= 0xffff) {
    w.byte(0xdc);
    w.u16be(n);
  } else {
    w.byte(0xdd);
    w.u32be(n);
  }
}

/**
 * Read an array header and return its item count; nil reads as an empty array (Go decodes a
 * nil slice so). Counts above `max` are refused, so hostile input cannot make us loop long.
 */
export function readArrayHeader(r: Reader, max: number): number {
  if (r.nil()) return 0;
  const b = r.byte();
  let n: number;
  if ((b & 0xf0) === 0x90) n = b & 0x0f;
  else if (b === 0xdc) n = r.u16be();
  else if (b === 0xdd) n = r.u32be();
  else throw new DecodeError("bad-msgpack", `expected an array, got 0x${b.toString(16)}`);
  if (n > max) throw new DecodeError("oversized", `array of ${n} > ${max} items`);
  if (n > r.remaining) {
    throw new DecodeError("truncated", `array of ${n} items in ${r.remaining} bytes`);
  }
  return n;
}

/** Largest Lamport time we accept: past 2^53 a JavaScript number loses integers. */
export const MAX_LTIME = Number.MAX_SAFE_INTEGER - 1;

/**
 * A single-reader async queue holding at most `max` undelivered items (the oldest are
 * dropped and counted); `close()` ends the iteration after what is queued.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  readonly #items: T[] = [];
  readonly #max: number;
  #wake: (() => void) | undefined;
  #closed = false;
  #onReturn: (() => void) | undefined;
  /** Items dropped because the reader fell `max` behind. */
  dropped = 0;

  /** A channel holding at most `max` items; `onReturn` runs when the reader stops early. */
  constructor(max: number, onReturn?: () => void) {
    this.#max = max;
    this.#onReturn = onReturn;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queue `item` (ignored once closed). */
  push(item: T): void {
    if (this.#closed) return;
    if (this.#items.length >= this.#max) {
      this.#items.shift();
      this.dropped++;
    }
    this.#items.push(item);
    this.#wake?.();
  }

  /** End the iteration once the queued items are read. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  /** The next item, or done once closed and drained. */
  async next(): Promise<IteratorResult<T>> {
    while (this.#items.length === 0) {
      if (this.#closed) return { done: true, value: undefined };
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    return { done: false, value: this.#items.shift()! };
  }

  /** Stop reading: drops what is queued and closes. */
  return(): Promise<IteratorResult<T>> {
    this.#items.length = 0;
    this.close();
    const fn = this.#onReturn;
    this.#onReturn = undefined;
    fn?.();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
