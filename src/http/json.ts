/**
 * The JSON shapes the agent prints and serves: members (metadata shown as tags) and events.
 *
 * @module
 */

import type { MembershipEvent, MembershipEventType } from "../core/effects.ts";
import type { Member, MemberState } from "../core/member.ts";
import { decodeTags, type Tags } from "../node/tags.ts";

/** A member as JSON. */
export interface MemberJson {
  /** Unique name. */
  readonly name: string;
  /** IP literal. */
  readonly address: string;
  /** UDP port. */
  readonly port: number;
  /** State as the local member sees it. */
  readonly state: MemberState;
  /** The member's incarnation. */
  readonly incarnation: number;
  /** Metadata decoded as tags; `null` when it is not a tag map (see `metaBase64`). */
  readonly meta: Tags | null;
  /** The raw metadata, base64, present only when it is not a tag map. */
  readonly metaBase64?: string;
  /** When the member last changed, ISO 8601 (present where the agent tracks it). */
  readonly changedAt?: string;
}

/** A membership event as JSON: one line of `shoal agent --json`, one SSE message. */
export interface EventJson {
  /** What happened. */
  readonly type: MembershipEventType;
  /** The member right after the change. */
  readonly member: MemberJson;
  /** When the local member saw it, ISO 8601. */
  readonly time: string;
}

/** Base64 of a byte array (no padding games: standard alphabet, padded). */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

/**
 * A member as JSON, with `changedAt` (epoch ms) when known.
 *
 * @example
 * ```ts ignore
 * memberJson(node.localMember());
 * // { name: "a", address: "127.0.0.1", port: 7946, state: "alive", incarnation: 1, meta: {} }
 * ```
 */
export function memberJson(member: Member, changedAt?: number): MemberJson {
  const tags = decodeTags(member.meta);
  return {
    name: member.name,
    address: member.address,
    port: member.port,
    state: member.state,
    incarnation: member.incarnation,
    meta: tags ?? null,
    ...(tags ? {} : { metaBase64: toBase64(member.meta) }),
    ...(changedAt === undefined ? {} : { changedAt: new Date(changedAt).toISOString() }),
  };
}

/** An event as JSON, stamped with `time` (epoch ms, default now). */
export function eventJson(event: MembershipEvent, time: number = Date.now()): EventJson {
  return { type: event.type, member: memberJson(event.member, time), time: toIso(time) };
}

function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
