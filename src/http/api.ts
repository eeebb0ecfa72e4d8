/**
 * The agent's HTTP API as a runtime-neutral `(Request, remote address) → Response` handler:
 *
 * | route | what |
 * |---|---|
 * | `GET /` | the live dashboard (HTML) |
 * | `GET /v1/members?status=alive,suspect` | `{"members": [...]}` |
 * | `GET /v1/members/:name` | one member, or 404 |
 * | `GET /v1/health` | health score, local state, counts by state |
 * | `POST /v1/join` `{"addresses": ["host:port", ...]}` | announce to more members |
 * | `POST /v1/leave` | leave gracefully (then the agent shuts down) |
 * | `GET /v1/events` | Server-Sent Events (see `sse.ts`) |
 * | `POST /v1/event` `{"name", "payload", "coalesce"}` | a serf user event (with `serf`) |
 * | `POST /v1/query` `{"name", "payload", "filterNodes", "filterTags", "timeout"}` | a serf query: `{"acks", "responses"}` once it ends |
 * | `GET /metrics` | Prometheus text |
 *
 * Every refusal is a 4xx (or a 503 when the event-stream cap is reached) with a JSON body
 * `{"error": "..."}`, counted in `shoal_http_refused_total{reason}`. Before routing, a request
 * must name an allowed `Host` (`hosts.ts`, else 421) and stay within the size limits
 * (`responses.ts`: 413, 414, 431). The mutating routes follow the rule in `auth.ts`; with a
 * token and `authenticateReads` (the default when a token is set), so do reads.
 *
 * @module
 */

import { AddressError, parseSeed } from "../core/address.ts";
import type { MemberState } from "../core/member.ts";
import { healthReport, MEMBER_STATES } from "./health.ts";
import { memberJson } from "./json.ts";
import type { ChangeTracker } from "./tracker.ts";
import type { ClusterView } from "./view.ts";
import { authorizeMutation, authorizeRead } from "./auth.ts";
import { dashboardHtml } from "./dashboard.ts";
import { HostAllowlist } from "./hosts.ts";
import { type HttpStats, METRICS_CONTENT_TYPE, renderMetrics } from "./metrics.ts";
import {
  checkRequestSize,
  errorResponse,
  HttpError,
  jsonResponse,
  readJsonObject,
  REFUSAL_REASONS,
  type RefusalReason,
} from "./responses.ts";
import { DEFAULT_MAX_EVENT_STREAMS, EventStreams } from "./sse.ts";
import type { Serf } from "../serf/serf.ts";

/** Handles one request; `remote` is the caller's IP address. */
export type RequestHandler = (req: Request, remote: string) => Promise<Response>;

/** Options of {@linkcode createApi}. */
export interface ApiOptions {
  /** The member served. */
  readonly view: ClusterView;
  /** Last-change times of members. */
  readonly tracker: ChangeTracker;
  /** Token required by mutating routes; without one they accept loopback callers only. */
  readonly token?: string;
  /** Called after `POST /v1/leave` has been answered (the agent shuts down). */
  readonly onLeft?: () => void;
  /** Period of SSE `health` events, ms. */
  readonly healthIntervalMs?: number;
  /**
   * More names the API answers to in `Host`, besides `localhost` and IP literals (which
   * include the bound address); other names get 421 (DNS rebinding). No ports.
   */
  readonly allowedHosts?: readonly string[];
  /**
   * With a `token`, require it for reads too (`GET`, `HEAD`): as `Bearer`, or as the Basic
   * password a browser sends for the dashboard. Default `true`; ignored without a token.
   */
  readonly authenticateReads?: boolean;
  /** Most concurrent event streams (default 64); more get 503. */
  readonly maxEventStreams?: number;
  /** The serf member, when the agent runs one: enables `POST /v1/event` and `/v1/query`. */
  readonly serf?: Serf;
}

/** The API: its handler, and `close` to end open event streams. */
export interface Api {
  /** Serve one request. Never throws: failures become 4xx/5xx JSON responses. */
  readonly handle: RequestHandler;
  /** End every open event stream (before the server shuts down). */
  close(): void;
  /** The API's own counters (also in `GET /metrics`). */
  stats(): HttpStats;
}

/** Most addresses one join request may carry. */
const MAX_JOIN_ADDRESSES = 64;

type Route = Partial<Record<"GET" | "POST", (req: Request, remote: string) => Promise<Response>>>;

/**
 * Build the API for a member.
 *
 * @example
 * ```ts ignore
 * const api = createApi({ view: node, tracker: new ChangeTracker(node) });
 * const res = await api.handle(new Request("http://x/v1/health"), "127.0.0.1");
 * ```
 */
export function createApi(options: ApiOptions): Api {
  const { view, tracker } = options;
  const maxEventStreams = options.maxEventStreams ?? DEFAULT_MAX_EVENT_STREAMS;
  if (!Number.isInteger(maxEventStreams) || maxEventStreams < 0) {
    throw new TypeError(`maxEventStreams must be a non-negative integer, got ${maxEventStreams}`);
  }
  const hosts = new HostAllowlist(options.allowedHosts);
  const readToken = (options.authenticateReads ?? true) ? options.token || undefined : undefined;
  const streams = new EventStreams({
    view,
    tracker,
    healthIntervalMs: options.healthIntervalMs,
    maxStreams: maxEventStreams,
  });
  let leaving = false;
  let requests = 0, internalErrors = 0;
  const refused = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<
    RefusalReason,
    number
  >;
  const stats = (): HttpStats => ({
    requests,
    refused: { ...refused },
    internalErrors,
    eventStreams: streams.size,
    maxEventStreams,
  });

  const mutation = (
    fn: (req: Request) => Promise<Response>,
  ): (req: Request, remote: string) => Promise<Response> =>
  (req, remote) => {
    authorizeMutation(req, remote, options.token);
    return fn(req);
  };

  const routes: Record<string, Route> = {
    "/": {
      GET: () =>
        Promise.resolve(
          new Response(dashboardHtml(), {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "cache-control": "no-store",
              "content-security-policy":
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
                "connect-src 'self'; img-src data:",
            },
          }),
        ),
    },
    "/v1/members": {
      GET: (req) => {
        const states = parseStatus(new URL(req.url).searchParams.get("status"));
        const members = view.members()
          .filter((m) => states === undefined || states.includes(m.state))
          .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
          .map((m) => memberJson(m, tracker.changedAt(m.name)));
        return Promise.resolve(jsonResponse(200, { members }));
      },
    },
    "/v1/health": { GET: () => Promise.resolve(jsonResponse(200, healthReport(view))) },
    "/v1/events": {
      // HEAD gets the headers only: a stream nobody reads would hold a slot.
      GET: (req) =>
        Promise.resolve(
          req.method === "HEAD"
            ? new Response(null, {
              headers: { "content-type": "text/event-stream; charset=utf-8" },
            })
            : streams.open(),
        ),
    },
    "/metrics": {
      GET: () =>
        Promise.resolve(
          new Response(renderMetrics(view, stats()), {
            headers: { "content-type": METRICS_CONTENT_TYPE },
          }),
        ),
    },
    "/v1/join": {
      POST: mutation(async (req) => {
        const body = await readJsonObject(req);
        const addresses = body.addresses;
        if (
          !Array.isArray(addresses) || addresses.length === 0 ||
          !addresses.every((a) => typeof a === "string")
        ) {
          throw new HttpError(400, '"addresses" must be a non-empty array of "host:port" strings');
        }
        if (addresses.length > MAX_JOIN_ADDRESSES) {
          throw new HttpError(400, `at most ${MAX_JOIN_ADDRESSES} addresses per request`);
        }
        for (const a of addresses as string[]) {
          try {
            parseSeed(a); // an IP literal or a DNS name (≤ 253 characters), with a port
          } catch (error) {
            if (error instanceof AddressError) throw new HttpError(400, error.message);
            throw error;
          }
        }
        if (leaving) throw new HttpError(409, "this agent is leaving");
        view.join(addresses as string[]);
        return jsonResponse(200, { ok: true, addresses });
      }),
    },
    "/v1/event": {
      POST: mutation(async (req) => {
        const serf = needSerf();
        const body = await readJsonObject(req);
        const name = nonEmptyString(body.name, "name");
        const payload = optionalString(body.payload, "payload");
        if (body.coalesce !== undefined && typeof body.coalesce !== "boolean") {
          throw new HttpError(400, '"coalesce" must be a boolean');
        }
        try {
          serf.event(name, payload, { coalesce: body.coalesce as boolean | undefined });
        } catch (error) {
          if (error instanceof RangeError) throw new HttpError(400, error.message);
          throw error;
        }
        return jsonResponse(200, { ok: true, name });
      }),
    },
    "/v1/query": {
      POST: mutation(async (req) => {
        const serf = needSerf();
        const body = await readJsonObject(req);
        const name = nonEmptyString(body.name, "name");
        const payload = optionalString(body.payload, "payload");
        const filterNodes = body.filterNodes ?? [];
        if (
          !Array.isArray(filterNodes) || filterNodes.length > MAX_FILTER_NODES ||
          !filterNodes.every((n) => typeof n === "string")
        ) {
          throw new HttpError(400, `"filterNodes" must be at most ${MAX_FILTER_NODES} strings`);
        }
        const filterTags = body.filterTags ?? {};
        if (
          typeof filterTags !== "object" || filterTags === null || Array.isArray(filterTags) ||
          !Object.values(filterTags).every((v) => typeof v === "string")
        ) {
          throw new HttpError(400, '"filterTags" must map tag names to regular expressions');
        }
        const timeout = body.timeout;
        if (
          timeout !== undefined &&
          (typeof timeout !== "number" || !(timeout > 0) || timeout > MAX_QUERY_TIMEOUT)
        ) {
          throw new HttpError(400, `"timeout" must be 1 to ${MAX_QUERY_TIMEOUT} ms`);
        }
        let result;
        try {
          result = await serf.query(name, payload, {
            filterNodes: filterNodes as string[],
            filterTags: filterTags as Record<string, string>,
            timeout: timeout as number | undefined,
          }).collect();
        } catch (error) {
          if (error instanceof RangeError) throw new HttpError(400, error.message);
          throw error;
        }
        const decoder = new TextDecoder();
        return jsonResponse(200, {
          acks: result.acks,
          responses: result.responses.map((r) => ({
            from: r.from,
            payload: decoder.decode(r.payload),
          })),
        });
      }),
    },
    "/v1/leave": {
      POST: mutation(async (req) => {
        await readJsonObject(req);
        leaving = true;
        await view.leave();
        if (options.onLeft) setTimeout(options.onLeft, 50);
        return jsonResponse(200, { ok: true, name: view.name, state: view.localMember().state });
      }),
    },
  };

  const handle: RequestHandler = async (req, remote) => {
    requests++;
    try {
      hosts.check(req);
      checkRequestSize(req);
      if (readToken !== undefined && req.method !== "POST") authorizeRead(req, readToken);
      const path = new URL(req.url).pathname;
      let route = routes[path];
      let memberName: string | undefined;
      if (!route && path.startsWith("/v1/members/")) {
        try {
          memberName = decodeURIComponent(path.slice("/v1/members/".length));
        } catch {
          throw new HttpError(400, "malformed member name in the path");
        }
        if (memberName === "") throw new HttpError(404, "no such route");
        route = { GET: () => Promise.resolve(oneMember(memberName!)) };
      }
      if (!route) throw new HttpError(404, `no such route: ${path}`);
      const method = req.method === "HEAD" ? "GET" : req.method;
      const fn = route[method as "GET" | "POST"];
      if (!fn) {
        throw new HttpError(405, `method ${req.method} not allowed here`, {
          allow: Object.keys(route).join(", "),
        });
      }
      return await fn(req, remote);
    } catch (error) {
      if (error instanceof HttpError) {
        refused[error.reason]++;
        return errorResponse(error);
      }
      internalErrors++;
      return jsonResponse(500, { error: `internal error: ${(error as Error)?.message ?? error}` });
    }
  };

  function needSerf(): Serf {
    if (options.serf === undefined) {
      throw new HttpError(404, "this agent is not a serf member (start it with --serf)");
    }
    if (leaving) throw new HttpError(409, "this agent is leaving");
    return options.serf;
  }

  function oneMember(name: string): Response {
    const m = view.member(name);
    if (!m) throw new HttpError(404, `no member named ${JSON.stringify(name)}`);
    return jsonResponse(200, memberJson(m, tracker.changedAt(m.name)));
  }

  return { handle, close: () => streams.closeAll(), stats };
}

/** Most names a query's node filter may list over the API. */
const MAX_FILTER_NODES = 256;
/** Longest query over the API, ms. */
const MAX_QUERY_TIMEOUT = 300_000;

function nonEmptyString(v: unknown, field: string): string {
  if (typeof v !== "string" || v === "") {
    throw new HttpError(400, `"${field}" must be a non-empty string`);
  }
  return v;
}

function optionalString(v: unknown, field: string): string {
  if (v === undefined) return "";
  if (typeof v !== "string") throw new HttpError(400, `"${field}" must be a string`);
  return v;
}

/** Parse `?status=alive,suspect`; `undefined` means every state. */
function parseStatus(text: string | null): MemberState[] | undefined {
  if (text === null || text === "") return undefined;
  const states = text.split(",").map((s) => s.trim());
  for (const s of states) {
    if (!MEMBER_STATES.includes(s as MemberState)) {
      throw new HttpError(400, `unknown status "${s}": use ${MEMBER_STATES.join(", ")}`);
    }
  }
  return states as MemberState[];
}
