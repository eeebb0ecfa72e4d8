/**
 * The protocol timing every implementation runs with in the cluster benchmark (memberlist's
 * LAN preset with faster probing, push/pull off).
 *
 * @module
 */

/** Shared timing. */
export const TIMING = {
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  indirectChecks: 3,
  suspicionMult: 4,
  gossipIntervalMs: 50,
} as const;

/** {@linkcode TIMING} as shoal config overrides, periodic anti-entropy off (as memberlist's here). */
export const SHOAL_FAST = {
  probeInterval: TIMING.probeIntervalMs,
  probeTimeout: TIMING.probeTimeoutMs,
  indirectChecks: TIMING.indirectChecks,
  suspicionMult: TIMING.suspicionMult,
  gossipInterval: TIMING.gossipIntervalMs,
  pushPullInterval: 0,
  reannounceInterval: 0,
} as const;

/**
 * memberlist's shortest suspicion timeout for `n` members:
 * `suspicionMult · max(1, log10(n)) · probeInterval` (swim-js has one fixed timeout).
 */
export function minSuspicionMs(n: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(
    TIMING.suspicionMult * Math.trunc(scale * 1000) * TIMING.probeIntervalMs / 1000,
  );
}
