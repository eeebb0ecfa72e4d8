/**
 * Protocol versions (protocol.md §14): what a member's `Vsn` bytes
 * `[PMin, PMax, PCur, DMin, DMax, DCur]` let us send it, and which version sets may share a
 * cluster. Every version rule of the core is a named predicate here.
 *
 * @module
 */

/** The highest protocol version a member understands (`PMax`), 0 when it sent no `Vsn`. */
function protocolMax(vsn: Uint8Array): number {
  return vsn[1] ?? 0;
}

/**
 * The versions we hold for a member that announced none (older peers omit `Vsn`): protocol 2,
 * memberlist's default, and nothing newer, so we send it no CRC, nack or stream ping, and our
 * push/pull always carries 6 bytes for it (memberlist cannot read a shorter `Vsn`).
 */
export const LEGACY_VSN: Uint8Array = new Uint8Array([1, 2, 2, 0, 0, 0]);

/** It accepts the CRC wrapper on datagrams (`PMax` ≥ 5). */
export function acceptsCrc(vsn: Uint8Array): boolean {
  return protocolMax(vsn) >= 5;
}

/** It answers an indirect probe that failed with a nack (`PMax` ≥ 4). */
export function sendsNacks(vsn: Uint8Array): boolean {
  return protocolMax(vsn) >= 4;
}

/** It answers the fallback probe over a stream (`PMax` ≥ 3). */
export function answersStreamPings(vsn: Uint8Array): boolean {
  return protocolMax(vsn) >= 3;
}

/**
 * A `Vsn` no member can have: a protocol range that is empty or starts at 0. Missing or short
 * `Vsn` fields are tolerated (older peers omit them).
 */
export function impossibleRange(vsn: Uint8Array): boolean {
  return vsn.length >= 3 && (vsn[0] === 0 || vsn[1] === 0 || vsn[0] > vsn[1]);
}

/** One member's versions as a full-state merge sees them. */
export interface VersionedEntry {
  /** Its `Vsn` bytes. */
  readonly vsn: Uint8Array;
  /** Only alive members narrow the range everyone must speak. */
  readonly alive: boolean;
}

/**
 * memberlist's check before a merge (protocol.md §7.6): every entry's current versions must lie
 * within the range all alive members understand.
 */
export function compatibleVersions(entries: Iterable<VersionedEntry>): boolean {
  let pMin = 0, pMax = 255, dMin = 0, dMax = 255;
  const all = [...entries];
  for (const { vsn, alive } of all) {
    if (!alive || vsn.length < 6) continue;
    pMin = Math.max(pMin, vsn[0]);
    pMax = Math.min(pMax, vsn[1]);
    dMin = Math.max(dMin, vsn[3]);
    dMax = Math.min(dMax, vsn[4]);
  }
  for (const { vsn } of all) {
    const pCur = vsn.length >= 6 ? vsn[2] : 0, dCur = vsn.length >= 6 ? vsn[5] : 0;
    if (pCur < pMin || pCur > pMax || dCur < dMin || dCur > dMax) return false;
  }
  return true;
}
