/**
 * JSON responses and errors of the agent's HTTP API.
 *
 * @module
 */

/**
 * Why a request was refused, the `reason` label of `shoal_http_refused_total`:
 *
 * - `host`: the `Host` header is not an allowed name (421, DNS rebinding)
 * - `cross-origin`: a browser page of another origin tried to change the agent (403)
 * - `unauthenticated`: no token where one is required (401)
 * - `forbidden`: a wrong token, or a mutation from off loopback without a token set (403)
 * - `body-too-large` (413), `uri-too-long` (414), `headers-too-large` (431)
 * - `too-many-streams`: the event-stream cap is reached (503)
 * - `bad-request`: anything else malformed (400, 404, 405, 409, 415)
 */
export type RefusalReason =
  | "host"
  | "cross-origin"
  | "unauthenticated"
  | "forbidden"
  | "body-too-large"
  | "uri-too-long"
  | "headers-too-large"
  | "too-many-streams"
  | "bad-request";

/** Every {@linkcode RefusalReason}, in a fixed order (metrics export each, as 0 until seen). */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  "host",
  "cross-origin",
  "unauthenticated",
  "forbidden",
  "body-too-large",
  "uri-too-long",
  "headers-too-large",
  "too-many-streams",
  "bad-request",
];

/** A request the API refuses, with its HTTP status. Becomes a `{"error": ...}` response. */
export class HttpError extends Error {
  /** HTTP status code (4xx, or 503 when busy). */
  readonly status: number;
  /** Extra response headers (e.g. `Allow`). */
  readonly headers: Record<string, string>;
  /** Why, for metrics. */
  readonly reason: RefusalReason;
  /**
   * Create an error with `status` and a human-readable `message`; `reason` defaults to
   * `body-too-large` for 413 and `bad-request` otherwise.
   */
  constructor(
    status: number,
    message: string,
    headers: Record<string, string> = {},
    reason?: RefusalReason,
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
    this.reason = reason ?? (status === 413 ? "body-too-large" : "bad-request");
  }
}

/** A JSON response. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/** The JSON response for an error: `{"error": message}` with its status. */
export function errorResponse(error: HttpError): Response {
  return jsonResponse(error.status, { error: error.message }, error.headers);
}

/** Most bytes a request body may have. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Most characters a request URL may have (longer: 414). */
export const MAX_URL_LENGTH = 8 * 1024;

/** Most bytes of header names and values together (more: 431). */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Refuse `req` early when its URL or headers are over the limits, or its declared
 * `Content-Length` is over {@linkcode MAX_BODY_BYTES} (its body is then never read).
 */
export function checkRequestSize(req: Request): void {
  if (req.url.length > MAX_URL_LENGTH) {
    throw new HttpError(
      414,
      `the URL is longer than ${MAX_URL_LENGTH} characters`,
      {},
      "uri-too-long",
    );
  }
  let headerBytes = 0;
  req.headers.forEach((value, name) => (headerBytes += name.length + value.length + 4));
  if (headerBytes > MAX_HEADER_BYTES) {
    throw new HttpError(
      431,
      `the headers exceed ${MAX_HEADER_BYTES} bytes`,
      {},
      "headers-too-large",
    );
  }
  const declared = req.headers.get("content-length");
  if (declared !== null && !(Number(declared) <= MAX_BODY_BYTES)) {
    throw new HttpError(413, "request body too large", { connection: "close" });
  }
}

/**
 * Read a JSON object body: requires `Content-Type: application/json` (which also keeps
 * cross-site form posts out), at most {@linkcode MAX_BODY_BYTES}, and valid JSON. An empty
 * body reads as `{}`.
 */
export async function readJsonObject(req: Request): Promise<Record<string, unknown>> {
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, "the request body must be JSON (Content-Type: application/json)");
  }
  checkRequestSize(req);
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > MAX_BODY_BYTES) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, "request body too large", { connection: "close" });
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  const text = new TextDecoder().decode(bytes).trim();
  if (text === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "the request body is not valid JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HttpError(400, "the request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}
