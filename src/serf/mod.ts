/**
 * Serf on shoal: members of a HashiCorp serf 0.8 cluster with tags, user events and queries,
 * speaking serf's messages over memberlist's wire protocol (docs/serf.md).
 *
 * @example
 * ```ts ignore
 * import { createSerf } from "@shoal/swim/serf";
 * await using serf = await createSerf({
 *   name: "cache-1",
 *   bind: "127.0.0.1:7946",
 *   seeds: ["127.0.0.1:7947"], // a serf agent, or another shoal serf member
 *   tags: { role: "cache" },
 * });
 * serf.event("purge", "/index.html");
 * const { responses } = await serf.query("who-has", "user:42", { timeout: 1000 }).collect();
 * ```
 *
 * @module
 */

export {
  createSerf,
  type QueryOptions,
  type QueryReply,
  Serf,
  SERF_VSN,
  type SerfEvent,
  type SerfMemberStats,
  type SerfOptions,
  SerfQuery,
  type SerfQueryEvent,
  type SerfUserEvent,
} from "./serf.ts";
export {
  DEFAULT_BUFFER,
  type IncomingQuery,
  matchTag,
  MAX_QUERY_TIMEOUT_MS,
  type MemberInfo,
  QUERY_RESPONSE_SIZE_LIMIT,
  QUERY_SIZE_LIMIT,
  type QueryParams,
  type SerfEffect,
  type SerfMember,
  type SerfMemberStatus,
  SerfState,
  type SerfStateOptions,
  type SerfStats,
  USER_EVENT_SIZE_LIMIT,
  type UserEventData,
} from "./state.ts";
export {
  type BufferedEvents,
  decodeFilter,
  decodeSerfMessage,
  encodeNodeFilter,
  encodeSerfMessage,
  encodeTagFilter,
  type JoinIntent,
  MAX_FILTER_NODES,
  MAX_FILTERS,
  MAX_PUSH_PULL_EVENTS,
  MAX_PUSH_PULL_MEMBERS,
  type PushPullState,
  QUERY_FLAG_ACK,
  QUERY_FLAG_NO_BROADCAST,
  type QueryFilter,
  type QueryMessage,
  type QueryResponseMessage,
  type RelayMessage,
  type SerfMessage,
  SerfMessageType,
  type UserEventMessage,
} from "./messages.ts";
export { decodeSerfTags, encodeSerfTags, TAG_MAGIC } from "./tags.ts";
export { LamportClock } from "./lamport.ts";
export { type Coalescable, UserEventCoalescer } from "./coalesce.ts";
