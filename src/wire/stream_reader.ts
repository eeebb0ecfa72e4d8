/**
 * Incremental reading of a stream message (protocol.md §6.8): memberlist writes a type byte and then
 * msgpack objects back to back with no length prefix (and keeps its write side open while it
 * waits for the reply, so EOF can't delimit anything). A {@linkcode StreamReader} buffers the
 * chunks a {@linkcode StreamConn} delivers and decodes one msgpack object at a time with the
 * bounded {@linkcode Reader}: when an object is cut short (`truncated`) it reads another
 * chunk and tries again. Raw bytes (user state, a user message) are read by count.
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
import { Reader } from "./msgpack.ts";

/** Most bytes one stream message may take: memberlist's 20 MiB limit. */
export const MAX_STREAM_MESSAGE = 20 * 1024 * 1024;

/** Options of a {@linkcode StreamReader}. */
export interface StreamReaderOptions extends DeadlineOptions {
  /** Most bytes taken from the connection; default {@linkcode MAX_STREAM_MESSAGE}. */
  readonly maxBytes?: number;
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

  /**
   * Read from `source`: a connection (bytes are pulled as needed, within the byte budget and
   * the deadline), or bytes already in memory (running out of them is final: `truncated`).
   */
  constructor(source: StreamConn | Uint8Array, options: StreamReaderOptions = {}) {
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
  static fromBytes(bytes: Uint8Array): StreamReader {
    return new StreamReader(bytes);
  }

  /** Bytes taken from the source so far. */
  get taken(): number {
    return this.#taken;
  }

  /** Bytes buffered but not consumed yet. */
  get buffered(): number {
    return this.#end - this.#start;
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
   * Decode one msgpack object with `decode`, reading more whenever it reports `truncated`.
   * `decode` must copy any bytes it keeps: the buffer is reused.
   */
  async object<T>(decode: (r: Reader) => T): Promise<T> {
    for (;;) {
      if (this.#start < this.#end) {
        const r = new Reader(this.#buf, this.#start, this.#end);
        try {
          const value = decode(r);
          this.#start = r.pos;
          return value;
        } catch (error) {
          if (!(error instanceof DecodeError) || error.kind !== "truncated") throw error;
        }
      }
      if (!(await this.#fill())) {
        throw new DecodeError("truncated", `stream ended inside a msgpack object`);
      }
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
