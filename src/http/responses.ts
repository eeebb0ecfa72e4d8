/**
 * JSON responses and errors of the agent's HTTP API.
 *
 * @module
 */

/** A request the API refuses, with its HTTP status. Becomes a `{"error": ...}` response. */
export class HttpError extends Error {
  /** HTTP status code (4xx). */
  readonly status: number;
  /** Extra response headers (e.g. `Allow`). */
  readonly headers: Record<string, string>;
  /** Create an error with `status` and a human-readable `message`. */
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
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
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, "request body too large");
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
        throw new HttpError(413, "request body too large");
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
