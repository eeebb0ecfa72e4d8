/**
 * Serf's messages (docs/serf.md) and their encoding: one type byte, then a go-msgpack map
 * whose keys are the Go struct's field names, sorted. They ride on memberlist user messages (direct
 * sends and broadcasts) and, for {@linkcode PushPullState}, on push/pull user state.
 *
 * Decoding is hostile-input safe: every count is bounded, unknown keys are skipped, and only
 * {@linkcode DecodeError} is thrown.
 *
 * @module
 */

import { DecodeError } from "../core/codec.ts";
import { Reader, U16_MAX, U32_MAX, U8_MAX, Writer } from "../wire/msgpack.ts";
import { arrayHeader, MAX_LTIME, readArrayHeader } from "./_util.ts";

/** Serf's message type bytes. */
export const SerfMessageType = {
  leave: 0,
  join: 1,
  pushPull: 2,
  userEvent: 3,
  query: 4,
  queryResponse: 5,
  conflictResponse: 6,
  keyRequest: 7,
  keyResponse: 8,
  relay: 9,
} as const;

/** Query flag: every member that processes the query acks it at once. */
export const QUERY_FLAG_ACK = 1;
/** Query flag: receivers do not re-broadcast the query (sent to chosen members only). */
export const QUERY_FLAG_NO_BROADCAST = 2;

/** Most members a push/pull's status map or left list may name. */
export const MAX_PUSH_PULL_MEMBERS = 65_536;
/** Most event times (and events per time) a push/pull may carry. */
export const MAX_PUSH_PULL_EVENTS = 4096;
/** Most filters a query may carry. */
export const MAX_FILTERS = 64;
/** Most names a node filter may list. */
export const MAX_FILTER_NODES = 4096;

/** A member's intent to join (or to refute an older leave), stamped with the member clock. */
export interface JoinIntent {
  /** `"join"` or `"leave"`. */
  readonly type: "join" | "leave";
  /** Member-clock time. */
  readonly ltime: number;
  /** The member. */
  readonly node: string;
}

/** A user event: a name and a payload, spread to every member. */
export interface UserEventMessage {
  /** `"userEvent"`. */
  readonly type: "userEvent";
  /** Event-clock time. */
  readonly ltime: number;
  /** Event name. */
  readonly name: string;
  /** Payload (may be empty). */
  readonly payload: Uint8Array;
  /** Receivers may coalesce events of this name. */
  readonly coalesce: boolean;
}

/** A query: a user event that asks for responses, sent straight back to `addr:port`. */
export interface QueryMessage {
  /** `"query"`. */
  readonly type: "query";
  /** Query-clock time. */
  readonly ltime: number;
  /** Random id (with `ltime`, identifies the query). */
  readonly id: number;
  /** The asker's IP (4 or 16 bytes). */
  readonly addr: Uint8Array;
  /** The asker's port. */
  readonly port: number;
  /** Encoded filters (see {@linkcode encodeNodeFilter}, {@linkcode encodeTagFilter}). */
  readonly filters: readonly Uint8Array[];
  /** {@linkcode QUERY_FLAG_ACK}, {@linkcode QUERY_FLAG_NO_BROADCAST}. */
  readonly flags: number;
  /** How many other members each response is also relayed through. */
  readonly relayFactor: number;
  /** How long responses are accepted, in nanoseconds (Go's `time.Duration`). */
  readonly timeoutNs: number;
  /** Query name. */
  readonly name: string;
  /** Payload (may be empty). */
  readonly payload: Uint8Array;
}

/** A response (or, with {@linkcode QUERY_FLAG_ACK} in `flags`, an ack) to a query. */
export interface QueryResponseMessage {
  /** `"queryResponse"`. */
  readonly type: "queryResponse";
  /** The query's time. */
  readonly ltime: number;
  /** The query's id. */
  readonly id: number;
  /** The responder's name. */
  readonly from: string;
  /** {@linkcode QUERY_FLAG_ACK} for an ack. */
  readonly flags: number;
  /** Response payload (empty for an ack). */
  readonly payload: Uint8Array;
}

/** The events buffered at one event time (carried in push/pull). */
export interface BufferedEvents {
  /** Event-clock time. */
  readonly ltime: number;
  /** The distinct events seen at that time. */
  readonly events: readonly { readonly name: string; readonly payload: Uint8Array }[];
}

/** Serf's push/pull user state: its clocks, members' intent times, left members, recent events. */
export interface PushPullState {
  /** `"pushPull"`. */
  readonly type: "pushPull";
  /** Member clock. */
  readonly ltime: number;
  /** Each member's latest intent time. */
  readonly statusLTimes: ReadonlyMap<string, number>;
  /** Members that left. */
  readonly leftMembers: readonly string[];
  /** Event clock. */
  readonly eventLTime: number;
  /** Recent events. */
  readonly events: readonly BufferedEvents[];
  /** Query clock. */
  readonly queryLTime: number;
}

/** A message to forward: `message` (type byte included) goes on to `to`. */
export interface RelayMessage {
  /** `"relay"`. */
  readonly type: "relay";
  /** Final destination IP (4 or 16 bytes). */
  readonly ip: Uint8Array;
  /** Final destination port. */
  readonly port: number;
  /** The message to forward, as it goes on the wire. */
  readonly message: Uint8Array;
}

/** Any serf message. */
export type SerfMessage =
  | JoinIntent
  | UserEventMessage
  | QueryMessage
  | QueryResponseMessage
  | PushPullState
  | RelayMessage;

function writeIntent(w: Writer, m: JoinIntent): void {
  w.mapHeader(2);
  w.str("LTime");
  w.uint(m.ltime);
  w.str("Node");
  w.str(m.node);
}

function writeQueryResponse(w: Writer, m: QueryResponseMessage): void {
  w.mapHeader(5);
  w.str("Flags");
  w.uint(m.flags);
  w.str("From");
  w.str(m.from);
  w.str("ID");
  w.uint(m.id);
  w.str("LTime");
  w.uint(m.ltime);
  w.str("Payload");
  // An ack carries no payload: Go's nil slice.
  w.bin(m.payload.length === 0 && (m.flags & QUERY_FLAG_ACK) !== 0 ? null : m.payload);
}

/**
 * Encode a serf message: its type byte, then the map go-msgpack 0.5 writes for serf's Go
 * struct, byte for byte: field names as keys, sorted by name (go-msgpack's order, not the
 * declaration order), strings and byte slices in the raw family, integers in their
 * smallest unsigned form, a `time.Duration` as nanoseconds.
 *
 * @example
 * ```ts
 * import { encodeSerfMessage } from "@shoal/swim/serf";
 * const bytes = encodeSerfMessage({ type: "join", ltime: 3, node: "a" });
 * console.log(bytes[0]); // 1, serf's join type
 * ```
 */
export function encodeSerfMessage(m: SerfMessage): Uint8Array {
  const w = new Writer(128);
  switch (m.type) {
    case "join":
    case "leave":
      w.byte(m.type === "join" ? SerfMessageType.join : SerfMessageType.leave);
      writeIntent(w, m);
      break;
    case "userEvent":
      w.byte(SerfMessageType.userEvent);
      w.mapHeader(4);
      w.str("CC");
      w.bool(m.coalesce);
      w.str("LTime");
      w.uint(m.ltime);
      w.str("Name");
      w.str(m.name);
      w.str("Payload");
      w.bin(m.payload);
      break;
    case "query":
      w.byte(SerfMessageType.query);
      w.mapHeader(10);
      w.str("Addr");
      w.bin(m.addr);
      w.str("Filters");
      if (m.filters.length === 0) w.nil();
      else {
        arrayHeader(w, m.filters.length);
        for (const f of m.filters) w.bin(f);
      }
      w.str("Flags");
      w.uint(m.flags);
      w.str("ID");
      w.uint(m.id);
      w.str("LTime");
      w.uint(m.ltime);
      w.str("Name");
      w.str(m.name);
      w.str("Payload");
      w.bin(m.payload);
      w.str("Port");
      w.uint(m.port);
      w.str("RelayFactor");
      w.uint(m.relayFactor);
      w.str("Timeout");
      w.uint(m.timeoutNs);
      break;
    case "queryResponse":
      w.byte(SerfMessageType.queryResponse);
      writeQueryResponse(w, m);
      break;
    case "pushPull":
      w.byte(SerfMessageType.pushPull);
      w.mapHeader(6);
      w.str("EventLTime");
      w.uint(m.eventLTime);
      w.str("Events");
      arrayHeader(w, m.events.length);
      for (const e of m.events) {
        w.mapHeader(2);
        w.str("Events");
        arrayHeader(w, e.events.length);
        for (const one of e.events) {
          w.mapHeader(2);
          w.str("Name");
          w.str(one.name);
          w.str("Payload");
          w.bin(one.payload);
        }
        w.str("LTime");
        w.uint(e.ltime);
      }
      w.str("LTime");
      w.uint(m.ltime);
      w.str("LeftMembers");
      arrayHeader(w, m.leftMembers.length);
      for (const name of m.leftMembers) w.str(name);
      w.str("QueryLTime");
      w.uint(m.queryLTime);
      w.str("StatusLTimes");
      w.mapHeader(m.statusLTimes.size);
      for (const [name, t] of m.statusLTimes) {
        w.str(name);
        w.uint(t);
      }
      break;
    case "relay":
      w.byte(SerfMessageType.relay);
      w.mapHeader(1);
      w.str("DestAddr");
      w.mapHeader(3);
      w.str("IP");
      w.bin(m.ip);
      w.str("Port");
      w.uint(m.port);
      w.str("Zone");
      w.str("");
      w.put(m.message);
      break;
  }
  return w.finish();
}

/**
 * Decode a serf message (type byte first). Types shoal does not handle (conflict and key
 * messages) and unknown types throw `unknown-type`; malformed input throws other
 * {@linkcode DecodeError} kinds.
 *
 * @example
 * ```ts
 * import { decodeSerfMessage, encodeSerfMessage } from "@shoal/swim/serf";
 * const m = decodeSerfMessage(encodeSerfMessage({ type: "leave", ltime: 9, node: "b" }));
 * console.log(m.type, m.type === "leave" && m.node); // leave b
 * ```
 */
export function decodeSerfMessage(bytes: Uint8Array): SerfMessage {
  if (bytes.length === 0) throw new DecodeError("empty", "empty serf message");
  const r = new Reader(bytes, 1);
  const t = bytes[0];
  switch (t) {
    case SerfMessageType.join:
    case SerfMessageType.leave: {
      let ltime = 0, node = "";
      forEachKey(r, (key) => {
        if (key === "LTime") ltime = r.uint(MAX_LTIME);
        else if (key === "Node") node = r.str();
        else return false;
        return true;
      });
      return { type: t === SerfMessageType.join ? "join" : "leave", ltime, node };
    }
    case SerfMessageType.userEvent: {
      let ltime = 0, name = "", payload = EMPTY, coalesce = false;
      forEachKey(r, (key) => {
        if (key === "LTime") ltime = r.uint(MAX_LTIME);
        else if (key === "Name") name = r.str();
        else if (key === "Payload") payload = r.bytes() ?? EMPTY;
        else if (key === "CC") coalesce = r.bool();
        else return false;
        return true;
      });
      return { type: "userEvent", ltime, name, payload, coalesce };
    }
    case SerfMessageType.query: {
      let ltime = 0, id = 0, addr = EMPTY, port = 0, flags = 0, relayFactor = 0, timeoutNs = 0;
      let name = "", payload = EMPTY;
      const filters: Uint8Array[] = [];
      forEachKey(r, (key) => {
        switch (key) {
          case "LTime":
            ltime = r.uint(MAX_LTIME);
            break;
          case "ID":
            id = r.uint(U32_MAX);
            break;
          case "Addr":
            addr = r.bytes() ?? EMPTY;
            break;
          case "Port":
            port = r.uint(U16_MAX);
            break;
          case "Filters": {
            const n = readArrayHeader(r, MAX_FILTERS);
            for (let i = 0; i < n; i++) filters.push(r.bytes() ?? EMPTY);
            break;
          }
          case "Flags":
            flags = r.uint(U32_MAX);
            break;
          case "RelayFactor":
            relayFactor = r.uint(U8_MAX);
            break;
          case "Timeout":
            timeoutNs = r.uint(Number.MAX_SAFE_INTEGER);
            break;
          case "Name":
            name = r.str();
            break;
          case "Payload":
            payload = r.bytes() ?? EMPTY;
            break;
          default:
            return false;
        }
        return true;
      });
      return {
        type: "query",
        ltime,
        id,
        addr,
        port,
        filters,
        flags,
        relayFactor,
        timeoutNs,
        name,
        payload,
      };
    }
    case SerfMessageType.queryResponse:
      return decodeQueryResponse(r);
    case SerfMessageType.pushPull:
      return decodePushPull(r);
    case SerfMessageType.relay: {
      let ip = EMPTY, port = 0;
      forEachKey(r, (key) => {
        if (key !== "DestAddr") return false;
        forEachKey(r, (inner) => {
          if (inner === "IP") ip = r.bytes() ?? EMPTY;
          else if (inner === "Port") port = r.uint(U16_MAX);
          else return false;
          return true;
        });
        return true;
      });
      const message = bytes.slice(r.pos);
      if (message.length === 0) throw new DecodeError("truncated", "relay without a message");
      return { type: "relay", ip, port, message };
    }
    default:
      throw new DecodeError("unknown-type", `serf message type ${t}`);
  }
}

function decodeQueryResponse(r: Reader): QueryResponseMessage {
  let ltime = 0, id = 0, from = "", flags = 0, payload = EMPTY;
  forEachKey(r, (key) => {
    if (key === "LTime") ltime = r.uint(MAX_LTIME);
    else if (key === "ID") id = r.uint(U32_MAX);
    else if (key === "From") from = r.str();
    else if (key === "Flags") flags = r.uint(U32_MAX);
    else if (key === "Payload") payload = r.bytes() ?? EMPTY;
    else return false;
    return true;
  });
  return { type: "queryResponse", ltime, id, from, flags, payload };
}

function decodePushPull(r: Reader): PushPullState {
  let ltime = 0, eventLTime = 0, queryLTime = 0;
  const statusLTimes = new Map<string, number>();
  const leftMembers: string[] = [];
  const events: BufferedEvents[] = [];
  forEachKey(r, (key) => {
    switch (key) {
      case "LTime":
        ltime = r.uint(MAX_LTIME);
        break;
      case "EventLTime":
        eventLTime = r.uint(MAX_LTIME);
        break;
      case "QueryLTime":
        queryLTime = r.uint(MAX_LTIME);
        break;
      case "StatusLTimes": {
        const n = r.mapHeader();
        if (n > MAX_PUSH_PULL_MEMBERS) throw new DecodeError("oversized", `${n} status times`);
        for (let i = 0; i < n; i++) {
          const name = r.str();
          statusLTimes.set(name, r.uint(MAX_LTIME));
        }
        break;
      }
      case "LeftMembers": {
        const n = readArrayHeader(r, MAX_PUSH_PULL_MEMBERS);
        for (let i = 0; i < n; i++) leftMembers.push(r.str());
        break;
      }
      case "Events": {
        const n = readArrayHeader(r, MAX_PUSH_PULL_EVENTS);
        for (let i = 0; i < n; i++) {
          if (r.nil()) continue; // serf sends its whole ring, empty slots as nil
          let t = 0;
          const list: { name: string; payload: Uint8Array }[] = [];
          forEachKey(r, (inner) => {
            if (inner === "LTime") t = r.uint(MAX_LTIME);
            else if (inner === "Events") {
              const m = readArrayHeader(r, MAX_PUSH_PULL_EVENTS);
              for (let j = 0; j < m; j++) {
                let name = "", payload = EMPTY;
                forEachKey(r, (f) => {
                  if (f === "Name") name = r.str();
                  else if (f === "Payload") payload = r.bytes() ?? EMPTY;
                  else return false;
                  return true;
                });
                list.push({ name, payload });
              }
            } else return false;
            return true;
          });
          events.push({ ltime: t, events: list });
        }
        break;
      }
      default:
        return false;
    }
    return true;
  });
  return { type: "pushPull", ltime, statusLTimes, leftMembers, eventLTime, events, queryLTime };
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** Read a map, calling `field` per key; a key it does not take (returns false) is skipped. */
function forEachKey(r: Reader, field: (key: string) => boolean): void {
  const n = r.mapHeader();
  if (n > r.remaining) throw new DecodeError("truncated", `map of ${n} pairs`);
  for (let i = 0; i < n; i++) {
    const key = r.key();
    if (!field(key)) r.skip();
  }
}

/**
 * A node filter: only the named members process the query (type byte 0, then the names).
 *
 * @example
 * ```ts
 * import { encodeNodeFilter } from "@shoal/swim/serf";
 * const filter = encodeNodeFilter(["a", "b"]);
 * console.log(filter[0]); // 0
 * ```
 */
export function encodeNodeFilter(nodes: readonly string[]): Uint8Array {
  const w = new Writer(32);
  w.byte(0);
  arrayHeader(w, nodes.length);
  for (const n of nodes) w.str(n);
  return w.finish();
}

/**
 * A tag filter: only members whose tag `tag` matches the regular expression `expr` process
 * the query (type byte 1, then `{Tag, Expr}`). Serf matches with Go's RE2 syntax, unanchored.
 *
 * @example
 * ```ts
 * import { encodeTagFilter } from "@shoal/swim/serf";
 * const filter = encodeTagFilter("role", "^web$");
 * console.log(filter[0]); // 1
 * ```
 */
export function encodeTagFilter(tag: string, expr: string): Uint8Array {
  const w = new Writer(32);
  w.byte(1);
  w.mapHeader(2);
  w.str("Expr");
  w.str(expr);
  w.str("Tag");
  w.str(tag);
  return w.finish();
}

/** A decoded query filter. */
export type QueryFilter =
  | { readonly type: "nodes"; readonly nodes: readonly string[] }
  | { readonly type: "tag"; readonly tag: string; readonly expr: string };

/**
 * Decode one query filter; throws {@linkcode DecodeError} for a malformed or unknown one.
 *
 * @example
 * ```ts
 * import { decodeFilter, encodeTagFilter } from "@shoal/swim/serf";
 * console.log(decodeFilter(encodeTagFilter("dc", "east"))); // { type: "tag", tag: "dc", expr: "east" }
 * ```
 */
export function decodeFilter(bytes: Uint8Array): QueryFilter {
  if (bytes.length === 0) throw new DecodeError("empty", "empty filter");
  const r = new Reader(bytes, 1);
  if (bytes[0] === 0) {
    const n = readArrayHeader(r, MAX_FILTER_NODES);
    const nodes: string[] = [];
    for (let i = 0; i < n; i++) nodes.push(r.str());
    return { type: "nodes", nodes };
  }
  if (bytes[0] === 1) {
    let tag = "", expr = "";
    forEachKey(r, (key) => {
      if (key === "Tag") tag = r.str();
      else if (key === "Expr") expr = r.str();
      else return false;
      return true;
    });
    return { type: "tag", tag, expr };
  }
  throw new DecodeError("unknown-type", `query filter type ${bytes[0]}`);
}
