/**
 * Prometheus text exposition (format 0.0.4) of a member's counters, for `GET /metrics`.
 *
 * @module
 */

import type { DecodeErrorKind } from "../core/codec.ts";
import { type RefusalKind, RTT_BUCKETS } from "../core/stats.ts";
import { countByState, findHealthScore, MEMBER_STATES } from "./health.ts";
import { REFUSAL_REASONS, type RefusalReason } from "./responses.ts";
import type { ClusterView } from "./view.ts";

/** Counters of the HTTP API itself, exported by {@linkcode renderMetrics} when given. */
export interface HttpStats {
  /** Requests answered. */
  readonly requests: number;
  /** Requests refused, by reason. */
  readonly refused: Readonly<Record<RefusalReason, number>>;
  /** Requests that failed with a 500. */
  readonly internalErrors: number;
  /** Event streams open now. */
  readonly eventStreams: number;
  /** The cap on event streams. */
  readonly maxEventStreams: number;
}

/** The `Content-Type` of {@linkcode renderMetrics}' output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Decode error kinds always exported (as 0 until seen), so dashboards see every series. */
const DECODE_ERROR_KINDS: readonly DecodeErrorKind[] = [
  "empty",
  "truncated",
  "oversized",
  "unknown-type",
  "bad-msgpack",
  "bad-field",
  "bad-crc",
  "bad-compression",
  "too-deep",
  "too-many-parts",
  "bad-label",
  "decrypt-failed",
  "overloaded",
];

const REFUSAL_KINDS: readonly RefusalKind[] = ["table-full", "rate", "name", "meta", "address"];

/** Escape a label value: backslash, double quote and newline. */
function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Prometheus float formatting. */
function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

class Exposition {
  readonly lines: string[] = [];
  metric(
    name: string,
    type: "counter" | "gauge" | "histogram",
    help: string,
    samples: [labels: Record<string, string>, value: number][],
  ): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.sample(name, labels, value);
  }
  sample(name: string, labels: Record<string, string>, value: number): void {
    const keys = Object.keys(labels);
    const l = keys.length
      ? `{${keys.map((k) => `${k}="${labelValue(labels[k])}"`).join(",")}}`
      : "";
    this.lines.push(`${name}${l} ${num(value)}`);
  }
}

/**
 * Render `view`'s metrics: members by state, probes, suspicions, dead declarations, local
 * health, traffic, decode errors by kind, broadcast queue depth and the probe RTT histogram
 * (in seconds, as Prometheus prefers); with `http`, the API's own counters too.
 *
 * @example
 * ```ts ignore
 * const text = renderMetrics(node);
 * // # TYPE shoal_members gauge
 * // shoal_members{state="alive"} 3 ...
 * ```
 */
export function renderMetrics(view: ClusterView, http?: HttpStats): string {
  const stats = view.stats();
  const core = stats.core;
  const t = stats.transport;
  const out = new Exposition();
  const counts = countByState(view.members());

  out.metric("shoal_info", "gauge", "The local member (always 1).", [[{ name: view.name }, 1]]);
  out.metric(
    "shoal_members",
    "gauge",
    "Members by state as the local member sees them, itself included.",
    MEMBER_STATES.map((s) => [{ state: s }, counts[s]]),
  );
  const c = (name: string, help: string, value: number) =>
    out.metric(name, "counter", help, [[{}, value]]);
  c("shoal_probes_total", "Direct probes started.", core.probes);
  c("shoal_probes_failed_total", "Probes that ended without an ack.", core.probesFailed);
  c("shoal_indirect_probes_total", "Indirect probe requests sent.", core.indirectProbes);
  c("shoal_acks_received_total", "Acks matched to our own probes.", core.acksReceived);
  c("shoal_nacks_received_total", "Nacks received from intermediaries.", core.nacksReceived);
  c("shoal_suspicions_raised_total", "Suspicions this member raised.", core.suspicionsRaised);
  c(
    "shoal_suspicions_refuted_total",
    "Suspicions or deaths about this member that it refuted.",
    core.refutations,
  );
  c(
    "shoal_dead_declarations_total",
    "Members this member declared dead when their suspicion expired.",
    core.deadDeclared,
  );
  c(
    "shoal_feeds_dropped_total",
    "Announces left unanswered because of the table-feed rate limit (the joiner retries).",
    core.feedsDropped,
  );
  c(
    "shoal_probes_inconclusive_total",
    "Unanswered probes during which this member stalled itself (a late timer): nobody accused.",
    core.probesInconclusive,
  );
  c(
    "shoal_events_held_total",
    "Suspect/alive events about flapping members held back by flap damping.",
    core.eventsHeld,
  );
  c("shoal_greetings_total", "Newcomers greeted with this member's alive.", core.greetings);
  c(
    "shoal_greetings_skipped_total",
    "Greetings skipped by the greeting budget (gossip tells the newcomer instead).",
    core.greetingsSkipped,
  );
  c(
    "shoal_join_retries_total",
    "Join announces repeated before a full state arrived.",
    core.joinRetries,
  );
  out.metric(
    "shoal_members_refused_total",
    "counter",
    "New members refused, by reason (table full, sender rate, name, metadata, address).",
    REFUSAL_KINDS.map((k) => [{ reason: k }, core.membersRefused[k] ?? 0]),
  );
  c(
    "shoal_implausible_claims_total",
    "Claims refused for an implausible incarnation jump.",
    core.implausibleClaims,
  );
  c(
    "shoal_packets_refused_total",
    "Datagrams dropped because their sender is outside allowedCidrs.",
    core.packetsRefused,
  );
  c(
    "shoal_announce_challenges_total",
    "Announces from unproven addresses answered with a challenge ping.",
    core.challenges,
  );
  c("shoal_conflicts_total", "Alive messages refused: the name is held elsewhere.", core.conflicts);
  c(
    "shoal_relays_dropped_total",
    "Indirect probes refused: too many in flight.",
    core.relaysDropped,
  );
  const score = findHealthScore(view);
  out.metric(
    "shoal_health_score",
    "gauge",
    "Lifeguard local health score (0 = healthy; reads 0 when the core does not expose it).",
    [[{}, score ?? 0]],
  );
  c("shoal_packets_received_total", "UDP datagrams received.", t.packetsIn);
  c("shoal_packets_sent_total", "UDP datagrams sent.", t.packetsOut);
  c("shoal_bytes_received_total", "UDP bytes received.", t.bytesIn);
  c("shoal_bytes_sent_total", "UDP bytes sent.", t.bytesOut);
  c("shoal_send_errors_total", "Datagrams that failed to send.", t.sendErrors);
  c("shoal_receive_errors_total", "Socket receive failures.", t.receiveErrors);
  c("shoal_messages_received_total", "Messages decoded from datagrams.", core.messagesIn);
  const kinds = new Set<string>([...DECODE_ERROR_KINDS, ...Object.keys(core.decodeErrors)]);
  out.metric(
    "shoal_decode_errors_total",
    "counter",
    "Datagrams dropped as undecodable, by kind.",
    [...kinds].map((k) => [{ kind: k }, core.decodeErrors[k as DecodeErrorKind] ?? 0]),
  );
  out.metric("shoal_broadcast_queue_depth", "gauge", "Rumours waiting to be gossiped.", [
    [{}, stats.queueDepth],
  ]);
  c("shoal_internal_errors_total", "Exceptions caught in the node's loops.", stats.internalErrors);
  const streams = (stats as { streams?: Record<string, unknown> }).streams;
  if (streams) {
    const n = (key: string) => typeof streams[key] === "number" ? streams[key] as number : 0;
    c("shoal_push_pulls_total", "Full-state push/pull exchanges completed (TCP).", n("pushPulls"));
    c("shoal_push_pull_errors_total", "Push/pull exchanges that failed.", n("pushPullErrors"));
    c("shoal_stream_serve_errors_total", "Inbound streams not read or answered.", n("serveErrors"));
    c(
      "shoal_stream_timeouts_total",
      "Inbound exchanges cut by their deadline.",
      n("serveTimeouts"),
    );
    c("shoal_stream_busy_total", "Inbound connections refused: every slot busy.", n("busyRefused"));
    c(
      "shoal_stream_idle_closed_total",
      "Inbound connections that sent nothing in time.",
      n("idleClosed"),
    );
    c("shoal_stream_idle_evicted_total", "Idle connections closed to make room.", n("idleEvicted"));
    c(
      "shoal_stream_rejected_total",
      "Inbound connections refused: the listener was full.",
      n("connectionsRejected"),
    );
    out.metric("shoal_stream_exchanges", "gauge", "Inbound exchanges in progress.", [
      [{}, n("inFlight")],
    ]);
  }

  if (http) {
    c("shoal_http_requests_total", "HTTP API requests answered.", http.requests);
    out.metric(
      "shoal_http_refused_total",
      "counter",
      "HTTP API requests refused, by reason (host, auth, sizes, stream cap, malformed).",
      REFUSAL_REASONS.map((r) => [{ reason: r }, http.refused[r]]),
    );
    c(
      "shoal_http_internal_errors_total",
      "HTTP API requests that failed (500).",
      http.internalErrors,
    );
    out.metric("shoal_http_event_streams", "gauge", "Event streams open now.", [
      [{}, http.eventStreams],
    ]);
    out.metric("shoal_http_event_streams_max", "gauge", "The cap on event streams.", [
      [{}, http.maxEventStreams],
    ]);
  }

  const h = core.probeRtt;
  out.metric("shoal_probe_rtt_seconds", "histogram", "Round-trip time of successful probes.", []);
  RTT_BUCKETS.forEach((ms, i) =>
    out.sample("shoal_probe_rtt_seconds_bucket", { le: num(ms / 1000) }, h.counts[i] ?? 0)
  );
  out.sample("shoal_probe_rtt_seconds_bucket", { le: "+Inf" }, h.count);
  out.sample("shoal_probe_rtt_seconds_sum", {}, h.sum / 1000);
  out.sample("shoal_probe_rtt_seconds_count", {}, h.count);
  return out.lines.join("\n") + "\n";
}
