/**
 * Flap damping of membership events (protocol.md §21): a member whose suspicions keep being
 * refuted — a bad link, not a crash — is reported once and then held, instead of flooding the
 * application with suspect/alive pairs. The protocol itself is untouched: the member is still
 * probed, gossiped and declared dead as before; only the events change.
 *
 * Each suspicion or death of a member adds 1 to its penalty, which halves every `halfLife` ms
 * and stops growing at `ceiling`. Reaching `suppress` holds the member: the application keeps
 * what it was told last (suspect, or dead once a death is told — a death is always told
 * first-hand) and further suspect, alive and join events are held, updates too once it is
 * held as dead (counted in `CoreStats.eventsHeld`). Once the penalty decays below `reuse`, the hold ends with one
 * `alive` (or `join`, after a death) if the member is back by then. Leaves are never held.
 *
 * @module
 */

import type { FlapDampingConfig } from "./config.ts";
import { type Context, dampingKey } from "./context.ts";
import type { MembershipEventType } from "./effects.ts";
import type { MemberRecord } from "./member.ts";

/** Penalties kept before the ones decayed to nothing are dropped. */
const PRUNE_AT = 1024;

/** One member's penalty, as of `at`, and what the application was last told while held. */
interface Penalty {
  value: number;
  at: number;
  held: boolean;
  /** While held: the application was told the member is suspect, or dead. */
  told: "suspect" | "dead";
}

/** What {@linkcode FlapDamping.admit} decides for an event. */
export type Admission = "emit" | "hold";

/** What ending a hold tells the application: the member is back, or nothing new. */
export type Release = "alive" | "join" | null;

/** The damping state of every member that flapped recently. Pure: time comes in. */
export class FlapDamping {
  readonly #cfg: FlapDampingConfig;
  readonly #penalties = new Map<string, Penalty>();

  /** Damping with the given settings. */
  constructor(cfg: FlapDampingConfig) {
    this.#cfg = cfg;
  }

  /** Is `name` held now? */
  isHeld(name: string): boolean {
    return this.#penalties.get(name)?.held ?? false;
  }

  /** The decayed penalty of `name` at `now` (0 when it has none). */
  penalty(name: string, now: number): number {
    const p = this.#penalties.get(name);
    return p ? this.#decayed(p, now) : 0;
  }

  /**
   * Account for an event about `name` and say whether it reaches the application. The
   * suspicion that raises the penalty to `suppress` is emitted and starts the hold; while
   * held, only a first death and a leave get through.
   */
  admit(type: MembershipEventType, name: string, now: number): Admission {
    let p = this.#penalties.get(name);
    if (type === "leave") {
      this.#penalties.delete(name);
      return "emit";
    }
    if (type === "suspect" || type === "dead") {
      const value = Math.min(this.#cfg.ceiling, (p ? this.#decayed(p, now) : 0) + 1);
      if (!p) {
        if (this.#penalties.size >= PRUNE_AT) this.#prune(now);
        this.#penalties.set(name, p = { value, at: now, held: false, told: "suspect" });
      } else Object.assign(p, { value, at: now });
      if (!p.held) {
        if (value >= this.#cfg.suppress) Object.assign(p, { held: true, told: type });
        return "emit";
      }
      if (type === "dead" && p.told !== "dead") {
        p.told = "dead";
        return "emit";
      }
      return "hold";
    }
    if (!p?.held) return "emit";
    return type === "update" && p.told === "suspect" ? "emit" : "hold";
  }

  /**
   * When the hold of `name` may end (the penalty reaches `reuse`), or null if it is not held.
   */
  releaseAt(name: string): number | null {
    const p = this.#penalties.get(name);
    if (!p?.held) return null;
    if (p.value < this.#cfg.reuse) return p.at;
    return p.at + Math.ceil(this.#cfg.halfLife * Math.log2(p.value / this.#cfg.reuse)) + 1;
  }

  /**
   * End the hold of `name` if its penalty decayed below `reuse`. `live` says whether the
   * member is alive or suspect now. Returns the event that tells the application, or null
   * (still held, not held, or nothing to tell).
   */
  release(name: string, now: number, live: boolean): Release | undefined {
    const p = this.#penalties.get(name);
    if (!p?.held || this.#decayed(p, now) >= this.#cfg.reuse) return undefined;
    this.#penalties.delete(name);
    if (!live) return null;
    return p.told === "dead" ? "join" : "alive";
  }

  /** Forget penalties that have decayed to nothing and are not held (bounds the map). */
  #prune(now: number): void {
    for (const [name, p] of this.#penalties) {
      if (!p.held && this.#decayed(p, now) < 0.05) this.#penalties.delete(name);
    }
  }

  #decayed(p: Penalty, now: number): number {
    return p.value * 2 ** (-(now - p.at) / this.#cfg.halfLife);
  }
}

/**
 * Flap damping wired into a member's state machine: gates its events (`Outbox.gate`) and
 * handles the `damping` timer that may end a hold.
 */
export class EventDamping {
  readonly #ctx: Context;
  readonly #penalties: FlapDamping;

  /** Damp the events of `ctx` with `cfg`. */
  constructor(ctx: Context, cfg: FlapDampingConfig) {
    this.#ctx = ctx;
    this.#penalties = new FlapDamping(cfg);
    ctx.out.gate = (type, m) => this.#admit(type, m);
  }

  /** The `damping` timer of `node` fired: end its hold if the penalty decayed. */
  onTimer(node: string): void {
    const ctx = this.#ctx;
    const m = ctx.table.get(node);
    const live = m !== undefined && (m.state === "alive" || m.state === "suspect");
    const told = this.#penalties.release(node, ctx.now(), live);
    if (told === undefined) return this.#arm(node);
    if (told && m) ctx.out.emit(told, m);
  }

  #admit(type: MembershipEventType, m: MemberRecord): boolean {
    if (m === this.#ctx.self) return true;
    const wasHeld = this.#penalties.isHeld(m.name);
    if (this.#penalties.admit(type, m.name, this.#ctx.now()) === "hold") {
      this.#ctx.stats.eventsHeld++;
      return false;
    }
    if (!wasHeld && this.#penalties.isHeld(m.name)) this.#arm(m.name);
    return true;
  }

  #arm(node: string): void {
    const at = this.#penalties.releaseAt(node);
    if (at === null) return;
    const ctx = this.#ctx;
    const token = ctx.timers.arm("damping", dampingKey(node));
    ctx.out.schedule({ kind: "damping", token, node }, Math.max(0, at - ctx.now()));
  }
}
