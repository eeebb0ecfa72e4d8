/**
 * Protocol settings and memberlist's presets (protocol.md §15). Every duration is in milliseconds.
 *
 * @module
 */

import { parseCidr } from "./cidr.ts";

/** Tunables of the SWIM protocol. Defaults come from {@linkcode lanConfig}. */
export interface SwimConfig {
  /** Time between probes of successive members (scaled by local health). */
  readonly probeInterval: number;
  /** How long to wait for a direct ack before asking others to probe indirectly. */
  readonly probeTimeout: number;
  /** Members asked to probe indirectly when a direct probe times out. */
  readonly indirectChecks: number;
  /** Rumours are retransmitted `retransmitMult · ceil(log10(n + 1))` times. */
  readonly retransmitMult: number;
  /** Suspicion lasts at least `suspicionMult · max(1, log10(n)) · probeInterval`. */
  readonly suspicionMult: number;
  /** Upper bound of suspicion, as a multiple of the lower bound (Lifeguard). */
  readonly suspicionMaxTimeoutMult: number;
  /** Time between gossip rounds. */
  readonly gossipInterval: number;
  /** Members gossiped to per round. */
  readonly gossipNodes: number;
  /** Dead members stay gossip targets this long (so the wrongly accused hear of it). */
  readonly gossipToTheDeadTime: number;
  /**
   * Anti-entropy period: a push/pull over a stream, or a table feed and an announce over
   * datagrams without streams (0 disables).
   */
  readonly pushPullInterval: number;
  /** Stream timeout (for stream transports). */
  readonly tcpTimeout: number;
  /** Largest datagram shoal sends. */
  readonly udpBufferSize: number;
  /** Local health (awareness) ceiling: probe interval scales up to this multiple. */
  readonly awarenessMaxMultiplier: number;
  /** Bytes subtracted from every packet budget for outer framing (encryption, labels). */
  readonly packetOverhead: number;
  /** Wrap packets in a CRC for peers whose protocol maximum is ≥ 5. */
  readonly crcOutgoing: boolean;
  /** Longest wait between join attempts, which go on until a full state arrives. */
  readonly joinRetryMax: number;
  /** Send the fallback probe over a stream to members that support it (protocol.md §8.4). */
  readonly tcpPings: boolean;
  /** Lifeguard extensions to SWIM (all on by default). */
  readonly lifeguard: LifeguardConfig;
  /**
   * How often to announce ourselves again to seeds we do not currently see alive, to one dead
   * member and to one live member, so that the two sides of a healed partition find each
   * other. 0 disables.
   */
  readonly reannounceInterval: number;
  /** What to do when a known name shows up from another address. */
  readonly conflictPolicy: ConflictPolicy;
  /**
   * Hold members whose suspicion expired as `unreachable` until the application confirms the
   * death (`confirmDead`) or the member refutes, instead of declaring them dead (default false).
   */
  readonly confirmDeaths: boolean;
  /**
   * Hold the suspect/alive events of a member whose suspicions keep being refuted (a bad
   * link), so applications are not flooded (protocol.md §21). `null` emits every event.
   */
  readonly flapDamping: FlapDampingConfig | null;
  /** Most members the table holds, ourselves and not yet reaped dead included; more are refused. */
  readonly maxMembers: number;
  /** New members accepted per second from one sender address (a token bucket). */
  readonly newMembersPerSecond: number;
  /** Burst of new members one sender address may introduce at once. */
  readonly newMembersBurst: number;
  /**
   * How long a member must have been dead before another address may take its name (under
   * `replace-dead`, memberlist's `DeadNodeReclaimTime`): long enough for a live member to
   * refute a forged death first.
   */
  readonly deadNodeReclaimTime: number;
  /**
   * Accept packets from, and members at, only these networks (`"127.0.0.0/8"`, `"::1/128"`;
   * memberlist's `CIDRsAllowed`). Absent: every address.
   */
  readonly allowedCidrs?: readonly string[];
}

/**
 * Lifeguard (Dadgar et al., 2018): local health awareness and suspicion that adapts to
 * confirmations. Each part can be switched off for experiments.
 */
export interface LifeguardConfig {
  /**
   * Local Health Multiplier: failed probes and refutations raise a score (0 … max − 1);
   * probe interval and probe timeout are multiplied by score + 1 (Lifeguard IV-A).
   */
  readonly awareness: boolean;
  /**
   * Local Health Aware suspicion: start at the longest timeout and shrink it with each
   * independent confirmation (Lifeguard IV-B). Off: a fixed timeout (the shortest).
   */
  readonly suspicion: boolean;
  /** Buddy system: tell a suspect it is suspected in the ping itself (Lifeguard IV-C). */
  readonly buddy: boolean;
  /** Missing nacks from indirect probes count against our own health (Lifeguard IV-A). */
  readonly nacks: boolean;
}

/**
 * Flap damping, as routers damp flapping routes: every suspicion or death of a member adds 1
 * to its penalty, which halves every `halfLife` ms and stops at `ceiling`. At `suppress` its
 * suspect and alive events are held; below `reuse` they are told again.
 */
export interface FlapDampingConfig {
  /** Time for a penalty to halve. */
  readonly halfLife: number;
  /** Penalty at which a member's events are held. */
  readonly suppress: number;
  /** Penalty below which the hold ends. */
  readonly reuse: number;
  /** Highest penalty (bounds how long a hold outlasts the flapping). */
  readonly ceiling: number;
}

/**
 * The default flap damping: held at about the third suspicion within three minutes; a hold
 * outlasts the flapping by at most `halfLife × log2(ceiling / reuse)` ≈ 4 minutes.
 *
 * @example
 * ```ts
 * import { FLAP_DAMPING, resolveConfig } from "@shoal/swim";
 * // Hold sooner and for longer than the default; `flapDamping: null` tells every event.
 * const cfg = resolveConfig("lan", { flapDamping: { suppress: 2, halfLife: 180_000 } });
 * console.assert(cfg.flapDamping?.ceiling === FLAP_DAMPING.ceiling);
 * ```
 */
export const FLAP_DAMPING: FlapDampingConfig = Object.freeze({
  halfLife: 90_000,
  suppress: 3,
  reuse: 1,
  ceiling: 6,
});

/**
 * `"reject"`: keep the known address, emit a `conflict` event (memberlist's behaviour).
 * `"replace-dead"`: take the new address if the known member is dead or left, else reject.
 * `"replace"`: take the new address when the announcement has a higher incarnation.
 */
export type ConflictPolicy = "reject" | "replace-dead" | "replace";

/** Every Lifeguard part on. */
export const LIFEGUARD_ON: LifeguardConfig = Object.freeze({
  awareness: true,
  suspicion: true,
  buddy: true,
  nacks: true,
});

/** Plain SWIM: every Lifeguard part off. */
export const LIFEGUARD_OFF: LifeguardConfig = Object.freeze({
  awareness: false,
  suspicion: false,
  buddy: false,
  nacks: false,
});

/** Largest metadata a member may announce (memberlist's MetaMaxSize). */
export const META_MAX_SIZE = 512;

/** Our advertised protocol versions `[PMin, PMax, PCur, DMin, DMax, DCur]` (protocol.md §14). */
export const DEFAULT_VSN: Uint8Array = new Uint8Array([1, 5, 2, 0, 0, 0]);

/**
 * memberlist's `DefaultLANConfig`: probe every second, 500 ms ack timeout, gossip every 200 ms.
 *
 * @example
 * ```ts
 * import { lanConfig } from "@shoal/swim";
 * const fast = { ...lanConfig, probeInterval: 200, probeTimeout: 100 };
 * ```
 */
export const lanConfig: SwimConfig = Object.freeze({
  probeInterval: 1000,
  probeTimeout: 500,
  indirectChecks: 3,
  retransmitMult: 4,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  gossipInterval: 200,
  gossipNodes: 3,
  gossipToTheDeadTime: 30_000,
  pushPullInterval: 30_000,
  tcpTimeout: 10_000,
  udpBufferSize: 1400,
  awarenessMaxMultiplier: 8,
  packetOverhead: 0,
  crcOutgoing: true,
  joinRetryMax: 30_000,
  tcpPings: true,
  lifeguard: LIFEGUARD_ON,
  reannounceInterval: 30_000,
  conflictPolicy: "replace-dead",
  confirmDeaths: false,
  flapDamping: FLAP_DAMPING,
  maxMembers: 10_000,
  newMembersPerSecond: 512,
  newMembersBurst: 4096,
  deadNodeReclaimTime: 10_000,
});

/** memberlist's `DefaultWANConfig`: slower and more tolerant, for links across regions. */
export const wanConfig: SwimConfig = Object.freeze({
  ...lanConfig,
  tcpTimeout: 30_000,
  suspicionMult: 6,
  pushPullInterval: 60_000,
  probeTimeout: 3000,
  probeInterval: 5000,
  gossipNodes: 4,
  gossipInterval: 500,
  gossipToTheDeadTime: 60_000,
  reannounceInterval: 60_000,
});

/** memberlist's `DefaultLocalConfig`: one host or a fast local network. */
export const localConfig: SwimConfig = Object.freeze({
  ...lanConfig,
  tcpTimeout: 1000,
  indirectChecks: 1,
  retransmitMult: 2,
  suspicionMult: 3,
  pushPullInterval: 15_000,
  probeTimeout: 200,
  probeInterval: 1000,
  gossipInterval: 100,
  gossipToTheDeadTime: 15_000,
  reannounceInterval: 15_000,
});

/**
 * Overrides of a preset: any setting, any part of `lifeguard`, and any part of `flapDamping`
 * (the rest from {@linkcode FLAP_DAMPING}), or `flapDamping: null` to tell every event.
 */
export type ConfigOverrides = Partial<Omit<SwimConfig, "lifeguard" | "flapDamping">> & {
  readonly lifeguard?: Partial<LifeguardConfig>;
  readonly flapDamping?: Partial<FlapDampingConfig> | null;
};

/** The preset names accepted by {@linkcode resolveConfig}. */
export type ConfigPreset = "lan" | "wan" | "local";

/** Thrown for a setting outside its valid range. */
export class ConfigError extends Error {
  /** Create a config error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * A preset with overrides, validated.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "@shoal/swim";
 * const cfg = resolveConfig("local", { probeInterval: 200, probeTimeout: 100 });
 * ```
 */
export function resolveConfig(
  preset: ConfigPreset = "lan",
  overrides: ConfigOverrides = {},
): SwimConfig {
  const base = preset === "wan" ? wanConfig : preset === "local" ? localConfig : lanConfig;
  if (!base) throw new ConfigError(`unknown preset: ${preset}`);
  const lifeguard = { ...base.lifeguard, ...overrides.lifeguard };
  const fdOver = overrides.flapDamping;
  const flapDamping = fdOver === null
    ? null
    : fdOver === undefined
    ? base.flapDamping
    : { ...(base.flapDamping ?? FLAP_DAMPING), ...fdOver };
  const cfg: SwimConfig = { ...base, ...overrides, lifeguard, flapDamping };
  if (!["reject", "replace-dead", "replace"].includes(cfg.conflictPolicy)) {
    throw new ConfigError(`conflictPolicy must be reject, replace-dead or replace`);
  }
  const positive: (keyof SwimConfig)[] = [
    "probeInterval",
    "probeTimeout",
    "gossipInterval",
    "suspicionMult",
    "suspicionMaxTimeoutMult",
    "retransmitMult",
    "awarenessMaxMultiplier",
    "joinRetryMax",
    "maxMembers",
    "newMembersPerSecond",
    "newMembersBurst",
  ];
  for (const key of positive) {
    const v = cfg[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
      throw new ConfigError(`${key} must be a positive number, got ${String(v)}`);
    }
  }
  for (
    const key of [
      "indirectChecks",
      "gossipNodes",
      "gossipToTheDeadTime",
      "pushPullInterval",
      "reannounceInterval",
      "deadNodeReclaimTime",
    ] as const
  ) {
    const v = cfg[key];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new ConfigError(`${key} must be a non-negative number, got ${String(v)}`);
    }
  }
  if (cfg.probeTimeout > cfg.probeInterval) {
    throw new ConfigError("probeTimeout must not exceed probeInterval");
  }
  if (cfg.udpBufferSize < 576 || cfg.udpBufferSize > 65_000) {
    throw new ConfigError("udpBufferSize must be between 576 and 65000");
  }
  const fd = cfg.flapDamping;
  if (fd !== null) {
    const ok = (v: unknown) => typeof v === "number" && Number.isFinite(v) && v > 0;
    if (!fd || ![fd.halfLife, fd.suppress, fd.reuse, fd.ceiling].every(ok)) {
      throw new ConfigError("flapDamping needs positive halfLife, suppress, reuse and ceiling");
    }
    if (!(fd.reuse < fd.suppress && fd.suppress <= fd.ceiling)) {
      throw new ConfigError("flapDamping needs reuse < suppress <= ceiling");
    }
  }
  if (cfg.allowedCidrs !== undefined) {
    try {
      cfg.allowedCidrs.forEach(parseCidr);
    } catch (err) {
      throw new ConfigError(`allowedCidrs: ${(err as Error).message}`);
    }
  }
  return Object.freeze(cfg);
}
