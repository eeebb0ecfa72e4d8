/**
 * Incremental reading of a stream message (protocol.md §6.8): memberlist writes a type byte and then
 * msgpack objects back to back with no length prefix (and keeps its write side open while it
 * waits for the reply, so EOF can't delimit anything). A {@linkcode StreamReader} buffers the
 * chunks a {@linkcode StreamConn} delivers and decodes one msgpack object at a time with the
 * bounded {@linkcode Reader}. Raw bytes (user state, a user message) are read by count.
 *
 * Reading is linear in the bytes received: before an object is decoded, a resumable scanner
 * walks its msgpack headers as chunks arrive (each byte once; string bodies are skipped by
 * their length) until the whole object is buffered, and only then is it decoded, once.
 *
 * Every read is bounded: by a byte budget for the whole message (`oversized`) and by an
 * optional deadline (the connection is closed, then {@linkcode StreamError} `timeout`). EOF in
 * the middle of a message is `truncated`. Bad bytes are {@linkcode DecodeError}s.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import type { StreamConn } from "./conn.ts";
import { Deadline, type DeadlineOptions } from "./deadline.ts";
import { MAX_SKIP_DEPTH, Reader } from "./msgpack.ts";

/** Most bytes one stream message may take: memberlist's 20 MiB limit. */
export const MAX_STREAM_MESSAGE = 20 * 1024 * 1024;
/** Bytes decoded from memory between two turns given to the event loop by `pace`. */
export const PACE_BYTES = 256 * 1024;

/** Counts decoding work: bytes the scanner and the decoder examined. */
export interface ReadWork {
  /** Bytes examined so far (a byte examined twice counts twice). */
  visited: number;
}

/** Options of a {@linkcode StreamReader}. */
export interface StreamReaderOptions extends DeadlineOptions {
  /** Most bytes taken from the connection; default {@linkcode MAX_STREAM_MESSAGE}. */
  readonly maxBytes?: number;
  /** Add the decoding work done to this counter (for tests and benchmarks). */
  readonly work?: ReadWork;
}

const EMPTY = new Uint8Array(0);

/**
 * A buffered, bounded reader over a stream connection or over bytes already in memory (a
 * decrypted or decompressed message).
 *
 * @example
 * ```ts
 * import { StreamReader } from "./stream_reader.ts";
 * const r = StreamReader.fromBytes(new Uint8Array([0x08, 0x81, 0xa1, 0x41, 0x02, 0x68, 0x69]));
 * await r.byte(); // 8
 * await r.object((m) => { m.mapHeader(); m.key(); return m.uint(10); }); // 2
 * await r.bytes(2); // Uint8Array [0x68, 0x69]
 * r.dispose();
 * ```
 */
export class StreamReader {
  readonly #conn: StreamConn | null;
  readonly #deadline: Deadline;
  readonly #maxBytes: number;
  #buf: Uint8Array;
  #start = 0;
  #end: number;
  #taken = 0;
  #eof: boolean;
  readonly #scan = new ObjectScan();
  #pacedAt = 0;
  readonly #work: ReadWork;

  /**
   * Read from `source`: a connection (bytes are pulled as needed, within the byte budget and
   * the deadline), or bytes already in memory (running out of them is final: `truncated`).
   */
  constructor(source: StreamConn | Uint8Array, options: StreamReaderOptions = {}) {
    this.#work = options.work ?? { visited: 0 };
    if (source instanceof Uint8Array) {
      this.#conn = null;
      this.#deadline = new Deadline({}, () => {});
      this.#maxBytes = source.length;
      this.#buf = source;
      this.#end = source.length;
      this.#taken = source.length;
      this.#eof = true;
      return;
    }
    const conn = source;
    this.#conn = conn;
    this.#deadline = new Deadline(options, () => void conn.close());
    this.#maxBytes = options.maxBytes ?? MAX_STREAM_MESSAGE;
    this.#buf = new Uint8Array(4096);
    this.#end = 0;
    this.#eof = false;
  }

  /** A reader over bytes already in memory (not copied; never modified). */
  static fromBytes(bytes: Uint8Array, work?: ReadWork): StreamReader {
    return new StreamReader(bytes, { work });
  }

  /** Bytes taken from the source so far. */
  get taken(): number {
    return this.#taken;
  }

  /** Bytes buffered but not consumed yet. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Over bytes in memory, let the event loop run (timers, sockets) once per
   * {@linkcode PACE_BYTES} consumed: nothing else would while a 20 MiB decrypted message is
   * decoded. Off a connection, each chunk read already does.
   */
  async pace(): Promise<void> {
    if (this.#conn !== null) return;
    if (this.#start - this.#pacedAt < PACE_BYTES) return;
    this.#pacedAt = this.#start;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }

  /** Stop the deadline clock. Call once the message is read (or abandoned). */
  dispose(): void {
    this.#deadline.dispose();
  }

  /** One raw byte. End of input before the very first byte is `empty`, later `truncated`. */
  async byte(): Promise<number> {
    if (this.#start === this.#end && !(await this.#fill())) {
      if (this.#taken === 0) throw new DecodeError("empty", "stream closed before any byte");
      throw new DecodeError("truncated", `stream ended after ${this.#taken} bytes`);
    }
    return this.#buf[this.#start++];
  }

  /** Exactly `n` raw bytes, as a fresh copy. */
  async bytes(n: number): Promise<Uint8Array> {
    if (n === 0) return EMPTY.slice();
    while (this.#end - this.#start < n) {
      if (!(await this.#fill(n - (this.#end - this.#start)))) {
        throw new DecodeError(
          "truncated",
          `stream ended ${n - (this.#end - this.#start)} bytes short of a ${n}-byte field`,
        );
      }
    }
    const out = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /**
   * Decode one msgpack object with `decode` once it is all buffered (reading more as needed).
   * `decode` must copy any bytes it keeps: the buffer is reused.
   */
  async object<T>(decode: (r: Reader) => T): Promise<T> {
    this.#scan.reset();
    // Bytes in memory are all there is: decode at once. Off a connection, wait for the scanner,
    // unless it and the decoder disagreed (then retry on every chunk: slower, never wrong).
    let atOnce = this.#conn === null;
    for (;;) {
      if (
        this.#start < this.#end &&
        (atOnce || this.#scan.advance(this.#buf, this.#start, this.#end, this.#work))
      ) {
        const value = this.#decode(decode);
        if (value !== MORE) return value;
        atOnce = true;
      }
      let more: boolean;
      try {
        more = await this.#fill();
      } catch (error) {
        // Bytes already buffered may prove the object bad: that error is the better answer.
        const value = this.#start < this.#end ? this.#decode(decode) : MORE;
        if (value !== MORE) return value;
        throw error;
      }
      if (!more) {
        const value = this.#start < this.#end ? this.#decode(decode) : MORE;
        if (value !== MORE) return value;
        throw new DecodeError("truncated", `stream ended inside a msgpack object`);
      }
    }
  }

  /** Decode at `#start`: the value, or {@linkcode MORE} when the bytes are cut short. */
  #decode<T>(decode: (r: Reader) => T): T | typeof MORE {
    const from = this.#start;
    const r = new Reader(this.#buf, from, this.#end);
    try {
      const value = decode(r);
      this.#start = r.pos;
      return value;
    } catch (error) {
      if (!(error instanceof DecodeError) || error.kind !== "truncated") throw error;
      return MORE;
    } finally {
      this.#work.visited += r.pos - from;
    }
  }

  /** Pull one more chunk; false at end of input. */
  async #fill(atLeast = 1): Promise<boolean> {
    if (this.#eof || this.#conn === null) return false;
    if (this.#taken >= this.#maxBytes) {
      throw new DecodeError("oversized", `stream message larger than ${this.#maxBytes} bytes`);
    }
    if (this.#taken + atLeast > this.#maxBytes) {
      throw new DecodeError(
        "oversized",
        `stream message needs ${this.#taken + atLeast} > ${this.#maxBytes} bytes`,
      );
    }
    let chunk: Uint8Array | null;
    do chunk = await this.#deadline.race(this.#conn.read()); while (
      chunk !== null && chunk.length === 0
    );
    // A deadline closes the connection, so the pending read may settle (null) first.
    if (this.#deadline.expired) await this.#deadline.race(Promise.resolve());
    if (chunk === null) {
      this.#eof = true;
      return false;
    }
    this.#append(chunk);
    this.#taken += chunk.length;
    return true;
  }

  #append(chunk: Uint8Array): void {
    const live = this.#end - this.#start;
    if (this.#end + chunk.length > this.#buf.length) {
      if (live + chunk.length <= this.#buf.length && this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
      } else {
        let size = this.#buf.length * 2;
        while (size < live + chunk.length) size *= 2;
        const next = new Uint8Array(size);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      }
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}

/** "Cut short: read more" from {@linkcode StreamReader}'s decode step. */
const MORE: unique symbol = Symbol("more");

/**
 * Nesting at which the scanner stops: where the decoders stop too (they skip unknown values
 * at most {@linkcode MAX_SKIP_DEPTH} levels below a struct's map), so it never stops short of
 * an object a decoder would take.
 */
const MAX_SCAN_DEPTH = MAX_SKIP_DEPTH + 1;

/**
 * Finds where one msgpack object ends, resumably: `advance` continues from where it stopped
 * when more bytes arrive, so every header byte is examined once. Offsets are relative to the
 * object's start (the buffer may move under it).
 *
 * It also tracks what the decoder's length checks ask for (a map of n pairs "cannot fit" in
 * fewer than 2n bytes), and stops early at what no decoder takes (the byte `c1`, nesting
 * deeper than {@linkcode MAX_SCAN_DEPTH}): once those bytes are buffered, decoding has a
 * definite outcome, a value or an error, that more bytes would not change.
 */
class ObjectScan {
  /** Next byte to examine. */
  #off = 0;
  /** Bytes the decoder needs before its outcome is definite (≥ `#off`). */
  #need = 0;
  /** Items left in each open container, innermost last. */
  #open: number[] = [];
  /** The object is complete (`#off` is its length), or the scan stopped at a bad byte. */
  #settled = false;

  reset(): void {
    this.#off = 0;
    this.#need = 0;
    this.#open.length = 0;
    this.#settled = false;
  }

  /** Scan what `buf[start, end)` adds; true once `decode` can run to a definite outcome. */
  advance(buf: Uint8Array, start: number, end: number, work: ReadWork): boolean {
    const avail = end - start;
    while (!this.#settled && this.#off < avail) {
      const p = start + this.#off;
      const b = buf[p];
      let head = 1; // type byte and length field
      let body = 0; // bytes after the head
      let items = -1; // objects that follow, for a container
      let lengthOf: "body" | "ext" | "items" | "pairs" = "body";
      if (b < 0x80 || b >= 0xe0) { /* fixint */ }
      else if (b < 0x90) items = (b & 0x0f) * 2;
      else if (b < 0xa0) items = b & 0x0f;
      else if (b < 0xc0) body = b & 0x1f;
      else {
        switch (b) {
          case 0xc0:
          case 0xc2:
          case 0xc3:
            break;
          case 0xc4:
          case 0xd9:
            head = 2;
            break;
          case 0xc5:
          case 0xda:
            head = 3;
            break;
          case 0xc6:
          case 0xdb:
            head = 5;
            break;
          case 0xc7:
            head = 2;
            lengthOf = "ext";
            break;
          case 0xc8:
            head = 3;
            lengthOf = "ext";
            break;
          case 0xc9:
            head = 5;
            lengthOf = "ext";
            break;
          case 0xcc:
          case 0xd0:
            body = 1;
            break;
          case 0xcd:
          case 0xd1:
          case 0xd4:
            body = 2;
            break;
          case 0xd5:
            body = 3;
            break;
          case 0xca:
          case 0xce:
          case 0xd2:
            body = 4;
            break;
          case 0xd6:
            body = 5;
            break;
          case 0xcb:
          case 0xcf:
          case 0xd3:
            body = 8;
            break;
          case 0xd7:
            body = 9;
            break;
          case 0xd8:
            body = 17;
            break;
          case 0xdc:
            head = 3;
            lengthOf = "items";
            break;
          case 0xdd:
            head = 5;
            lengthOf = "items";
            break;
          case 0xde:
            head = 3;
            lengthOf = "pairs";
            break;
          case 0xdf:
            head = 5;
            lengthOf = "pairs";
            break;
          default: // 0xc1: invalid, the decoder rejects it
            this.#stop(this.#off + 1);
            continue;
        }
      }
      if (this.#off + head > avail) break; // the length field is still on its way
      if (head > 1) {
        const n = head === 2
          ? buf[p + 1]
          : head === 3
          ? (buf[p + 1] << 8) | buf[p + 2]
          : ((buf[p + 1] << 24) | (buf[p + 2] << 16) | (buf[p + 3] << 8) | buf[p + 4]) >>> 0;
        if (lengthOf === "body") body = n;
        else if (lengthOf === "ext") body = n + 1;
        else items = lengthOf === "items" ? n : n * 2;
      }
      work.visited += head;
      this.#off += head;
      if (items > 0) {
        this.#want(this.#off + items); // the decoder's "cannot fit" check
        if (this.#open.length >= MAX_SCAN_DEPTH) {
          this.#stop(this.#off);
          continue;
        }
        this.#open.push(items);
        continue;
      }
      this.#off += body;
      this.#want(this.#off);
      this.#itemDone();
    }
    return this.#settled && avail >= this.#need;
  }

  #want(n: number): void {
    if (n > this.#need) this.#need = n;
  }

  #stop(need: number): void {
    this.#want(need);
    this.#settled = true;
  }

  /** One object ended: close every container it completes. */
  #itemDone(): void {
    const open = this.#open;
    while (open.length > 0) {
      if (--open[open.length - 1] > 0) return;
      open.pop();
    }
    this.#settled = true;
  }
}
