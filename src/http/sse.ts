/**
 * `GET /v1/events`: membership as Server-Sent Events. A stream opens with one `snapshot`
 * (every member, the health report and, when the tracker keeps one, the last few minutes of
 * `history`: see `history.ts`), then sends one `member` event per membership event, a
 * `health` event every few seconds (which also keeps idle connections open) and a `stats`
 * event per history sample (health score, packets/s, the window's probe RTT histogram).
 * Clients ignore event types they do not know, so new ones can be added.
 *
 * ```
 * event: snapshot
 * data: {"self":"a","members":[...],"health":{...},"history":{"samples":[...],...}}
 *
 * event: member
 * data: {"type":"suspect","member":{...},"time":"2026-01-01T00:00:00.000Z"}
 *
 * event: stats
 * data: {"sample":{"t":1767225600000,"healthScore":0,...},"rtt":{"buckets":[1,2,...],...}}
 * ```
 *
 * @module
 */

import { healthReport } from "./health.ts";
import { HttpError } from "./responses.ts";
import { eventJson, memberJson } from "./json.ts";
import type { ChangeTracker } from "./tracker.ts";
import type { ClusterView } from "./view.ts";

/** A client this far behind (queued chunks) is disconnected rather than buffered forever. */
const MAX_QUEUED_CHUNKS = 10_000;

/** Default cap on concurrent event streams. */
export const DEFAULT_MAX_EVENT_STREAMS = 64;

/** Options of {@linkcode EventStreams}. */
export interface EventStreamOptions {
  /** The member whose view is streamed. */
  readonly view: ClusterView;
  /** Last-change times for the snapshot, and the history for the snapshot and `stats` events. */
  readonly tracker: ChangeTracker;
  /** Period of `health` events, ms (default 2000). */
  readonly healthIntervalMs?: number;
  /**
   * Most concurrent streams (default {@linkcode DEFAULT_MAX_EVENT_STREAMS}); `open` refuses
   * more with a 503.
   */
  readonly maxStreams?: number;
}

/** Opens event streams and can end them all (on shutdown). */
export class EventStreams {
  readonly #options: EventStreamOptions;
  readonly #open = new Set<() => void>();

  /** Create the stream factory. */
  constructor(options: EventStreamOptions) {
    this.#options = options;
  }

  /** Number of connected clients. */
  get size(): number {
    return this.#open.size;
  }

  /**
   * A new `text/event-stream` response. Throws a 503 {@linkcode HttpError} (reason
   * `too-many-streams`) when the cap is reached.
   */
  open(): Response {
    const { view, tracker } = this.#options;
    const max = this.#options.maxStreams ?? DEFAULT_MAX_EVENT_STREAMS;
    if (this.#open.size >= max) {
      throw new HttpError(
        503,
        `too many event streams open (at most ${max}); try again later`,
        { "retry-after": "5" },
        "too-many-streams",
      );
    }
    const encoder = new TextEncoder();
    let end = () => {};
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        let ended = false;
        const send = (event: string, data: unknown) => {
          if (ended) return;
          if ((controller.desiredSize ?? 0) < -MAX_QUEUED_CHUNKS) {
            end();
            return;
          }
          controller.enqueue(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
        };
        // Snapshot and subscription in the same tick: no event can fall between them.
        const history = tracker.history();
        send("snapshot", {
          self: view.name,
          members: view.members().map((m) => memberJson(m, tracker.changedAt(m.name))),
          health: healthReport(view),
          ...(history ? { history } : {}),
        });
        const unsubscribe = view.onEvent((e) => send("member", eventJson(e)));
        const unsubscribeStats = tracker.onSample((stats) => send("stats", stats));
        const timer = setInterval(
          () => send("health", healthReport(view)),
          this.#options.healthIntervalMs ?? 2000,
        );
        end = () => {
          if (ended) return;
          ended = true;
          unsubscribe();
          unsubscribeStats();
          clearInterval(timer);
          this.#open.delete(end);
          try {
            controller.close();
          } catch {
            // already closed or cancelled
          }
        };
        this.#open.add(end);
      },
      cancel: () => end(),
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  /** End every open stream. */
  closeAll(): void {
    for (const end of [...this.#open]) end();
  }
}
