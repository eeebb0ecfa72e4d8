/**
 * The receive side of a push-style stream connection (Bun, `node:net`, in-memory): chunks
 * wait in a queue for `read()`, the source is paused while more than {@linkcode HIGH_WATER}
 * bytes wait unread and resumed once the reader has caught up, and a peer that keeps sending
 * past {@linkcode MAX_UNREAD_BYTES} is cut off.
 *
 * @module
 */

import { MAX_UNREAD_BYTES } from "../wire/conn.ts";

/** Unread bytes above which the source is paused until the reader catches up. */
export const HIGH_WATER: number = Math.min(1024 * 1024, MAX_UNREAD_BYTES);

/** How a {@linkcode ChunkQueue} holds its source back. */
export interface ChunkQueueOptions {
  /** Stop the source delivering (TCP flow control then holds the peer back). */
  readonly pause?: () => void;
  /** Let the source deliver again. */
  readonly resume?: () => void;
  /** More than `MAX_UNREAD_BYTES` wait unread: the connection should close. */
  readonly onOverflow: () => void;
}

/**
 * Chunks received and not read yet, and the one pending read. Chunks are handed out as
 * pushed (the caller pushes a private copy).
 */
export class ChunkQueue {
  readonly #options: ChunkQueueOptions;
  #chunks: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #waiter: ((chunk: Uint8Array | null) => void) | undefined;

  /** An empty queue. */
  constructor(options: ChunkQueueOptions) {
    this.#options = options;
  }

  /** A chunk arrived (ignored after {@linkcode end} or {@linkcode clear}). */
  push(chunk: Uint8Array): void {
    if (this.#ended) return;
    if (this.#waiter) {
      this.#wake(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#queued += chunk.length;
    if (this.#queued > MAX_UNREAD_BYTES) {
      this.#options.onOverflow(); // the source ignored the pause and the peer keeps flooding
    } else if (!this.#paused && this.#queued > HIGH_WATER && this.#options.pause) {
      this.#paused = true;
      this.#options.pause();
    }
  }

  /** End of stream: reads get the chunks still queued, then `null`. */
  end(): void {
    this.#ended = true;
    this.#wake(null);
  }

  /** Closed locally: queued chunks are dropped and reads get `null`. */
  clear(): void {
    this.#chunks = [];
    this.#queued = 0;
    this.end();
  }

  /** The next chunk, or `null` at end of stream. Rejects when a read is already pending. */
  read(): Promise<Uint8Array | null> {
    if (this.#waiter) return Promise.reject(new Error("overlapping read on a stream connection"));
    const chunk = this.#chunks.shift();
    if (chunk) {
      this.#queued -= chunk.length;
      if (this.#paused && this.#queued <= HIGH_WATER / 2) {
        this.#paused = false;
        this.#options.resume?.();
      }
      return Promise.resolve(chunk);
    }
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  #wake(chunk: Uint8Array | null): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.(chunk);
  }
}
