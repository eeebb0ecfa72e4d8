/**
 * The encryption keyring (protocol.md §3.3): an ordered set of AES keys. The first is the
 * *primary* key, the only one used to encrypt; decryption tries every key in order. Keys can
 * be added, promoted and removed at run time, which is how a cluster rotates its key without
 * downtime: add the new key everywhere, `use` it everywhere, then remove the old one.
 *
 * Keys are 16, 24 or 32 bytes (AES-128/192/256). They are imported into WebCrypto once,
 * lazily, and the `CryptoKey`s are cached for the key's lifetime on the ring.
 *
 * @module
 */

/** Valid key lengths in bytes: AES-128, AES-192 and AES-256. */
export const KEY_SIZES: readonly number[] = [16, 24, 32];

/** Misuse of a keyring: a key of the wrong size, removing the primary key, and so on. */
export class KeyringError extends Error {
  /** Create a keyring error. */
  constructor(message: string) {
    super(message);
    this.name = "KeyringError";
  }
}

/**
 * Check that `key` is a usable AES key (16, 24 or 32 bytes).
 *
 * @throws {KeyringError} for any other length.
 *
 * @example
 * ```ts
 * import { validateKey } from "./keyring.ts";
 * validateKey(new Uint8Array(32)); // ok
 * ```
 */
export function validateKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new KeyringError("a key must be a Uint8Array");
  if (!KEY_SIZES.includes(key.length)) {
    throw new KeyringError(
      `a key must be 16, 24 or 32 bytes (AES-128/192/256), got ${key.length} bytes`,
    );
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decode a base64 key (as memberlist and Serf print them) and validate its length.
 *
 * @throws {KeyringError} for text that is not base64 or a key of the wrong size.
 *
 * @example
 * ```ts
 * import { parseKey } from "./keyring.ts";
 * parseKey("MDEyMzQ1Njc4OWFiY2RlZg=="); // the 16 bytes of "0123456789abcdef"
 * ```
 */
export function parseKey(text: string): Uint8Array {
  const clean = text.trim();
  if (clean.length % 4 !== 0 || !BASE64.test(clean)) {
    throw new KeyringError("a key must be given as standard base64");
  }
  const bin = atob(clean);
  const key = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) key[i] = bin.charCodeAt(i);
  validateKey(key);
  return key;
}

/** Base64 text of `key` (the inverse of {@linkcode parseKey}). */
export function formatKey(key: Uint8Array): string {
  let bin = "";
  for (const b of key) bin += String.fromCharCode(b);
  return btoa(bin);
}

interface Entry {
  readonly raw: Uint8Array;
  crypto: Promise<CryptoKey> | undefined;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function importAesKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    { name: "AES-GCM" },
    false,
    [
      "encrypt",
      "decrypt",
    ],
  );
}

/**
 * A primary key plus extra decryption keys. Every method copies the bytes it is given or
 * returns, so callers can't change a key behind the ring's back.
 *
 * @example
 * ```ts
 * import { Keyring, parseKey } from "./keyring.ts";
 * const ring = new Keyring(parseKey("MDEyMzQ1Njc4OWFiY2RlZg=="));
 * const next = crypto.getRandomValues(new Uint8Array(32));
 * ring.add(next); // decrypts with both keys, still encrypts with the first
 * ring.use(next); // now encrypts with the new key
 * ring.remove(ring.keys()[1]); // drop the old key
 * ```
 */
export class Keyring {
  #entries: Entry[] = [];
  #generation = 0;

  /**
   * Create a ring whose primary key is `primary`, with `others` as extra decryption keys
   * (duplicates are ignored).
   *
   * @throws {KeyringError} for a key that is not 16, 24 or 32 bytes.
   */
  constructor(primary: Uint8Array, others: Iterable<Uint8Array> = []) {
    validateKey(primary);
    const extra = [...others];
    extra.forEach(validateKey);
    this.#entries.push({ raw: primary.slice(), crypto: undefined });
    for (const key of extra) this.add(key);
  }

  /**
   * A ring from base64 keys, the first being the primary.
   *
   * @throws {KeyringError} for no keys, bad base64 or a key of the wrong size.
   */
  static fromBase64(keys: readonly string[]): Keyring {
    if (keys.length === 0) throw new KeyringError("a keyring needs at least one key");
    const [primary, ...others] = keys.map(parseKey);
    return new Keyring(primary, others);
  }

  /** Number of keys on the ring (at least 1). */
  get size(): number {
    return this.#entries.length;
  }

  /** A copy of the primary (encryption) key. */
  get primary(): Uint8Array {
    return this.#entries[0].raw.slice();
  }

  /** Bumped by every change; lets callers notice that the ring changed. */
  get generation(): number {
    return this.#generation;
  }

  /** Copies of every key, primary first, then the others in the order they were added. */
  keys(): Uint8Array[] {
    return this.#entries.map((e) => e.raw.slice());
  }

  /** True if `key` is on the ring. */
  has(key: Uint8Array): boolean {
    return this.#entries.some((e) => sameKey(e.raw, key));
  }

  /**
   * Add `key` as an extra decryption key (at the end). Adding a key that is already on the
   * ring does nothing, as in memberlist.
   *
   * @throws {KeyringError} for a key that is not 16, 24 or 32 bytes.
   */
  add(key: Uint8Array): void {
    validateKey(key);
    if (this.has(key)) return;
    this.#entries.push({ raw: key.slice(), crypto: undefined });
    this.#generation++;
  }

  /**
   * Make `key`, which must already be on the ring, the primary key. The previous primary
   * stays on the ring as a decryption key.
   *
   * @throws {KeyringError} if the key is not on the ring.
   */
  use(key: Uint8Array): void {
    validateKey(key);
    const i = this.#entries.findIndex((e) => sameKey(e.raw, key));
    if (i < 0) throw new KeyringError("cannot use a key that is not on the keyring; add it first");
    if (i === 0) return;
    const [entry] = this.#entries.splice(i, 1);
    this.#entries.unshift(entry);
    this.#generation++;
  }

  /**
   * Remove `key` from the ring. Removing a key that is not on the ring does nothing.
   *
   * @throws {KeyringError} when `key` is the primary key: `use` another key first.
   */
  remove(key: Uint8Array): void {
    validateKey(key);
    const i = this.#entries.findIndex((e) => sameKey(e.raw, key));
    if (i < 0) return;
    if (i === 0) {
      throw new KeyringError("cannot remove the primary key; make another key primary first");
    }
    this.#entries.splice(i, 1);
    this.#generation++;
  }

  /** The primary key as a WebCrypto AES-GCM key (imported once, then cached). */
  primaryCryptoKey(): Promise<CryptoKey> {
    return this.#cryptoKey(this.#entries[0]);
  }

  /** Every key as a WebCrypto AES-GCM key, primary first (a snapshot of the ring). */
  cryptoKeys(): Promise<CryptoKey[]> {
    return Promise.all(this.#entries.map((e) => this.#cryptoKey(e)));
  }

  #cryptoKey(entry: Entry): Promise<CryptoKey> {
    entry.crypto ??= importAesKey(entry.raw);
    return entry.crypto;
  }
}
