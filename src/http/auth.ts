/**
 * Who may call the API.
 *
 * Mutations (`POST /v1/join`, `POST /v1/leave`): without a token, only loopback callers may.
 * With a token, every caller must present it as `Authorization: Bearer <token>`, from
 * anywhere. Either way a browser request from another origin (an `Origin` header that does
 * not match `Host`) is refused, so a web page cannot drive a local agent.
 *
 * Reads, when the API authenticates them: the token as `Bearer`, or as the password of HTTP
 * Basic (any user name), which is what a browser sends for the dashboard after its prompt.
 * Basic is not accepted for mutations, because browsers attach it to requests on their own.
 *
 * @module
 */

import { HttpError } from "./responses.ts";

/**
 * True for loopback addresses: `127.0.0.0/8`, `::1`, and their IPv4-mapped forms.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./auth.ts";
 * isLoopback("127.0.0.1"); // true
 * isLoopback("::ffff:127.0.0.1"); // true
 * isLoopback("192.0.2.7"); // false
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** Constant-time string comparison (length leaks, content does not). */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Check that `req` (from `remote`) may mutate the agent; throws an {@linkcode HttpError}
 * (401 or 403) if not.
 */
export function authorizeMutation(req: Request, remote: string, token: string | undefined): void {
  const origin = req.headers.get("origin");
  if (origin !== null) {
    let originHost = "";
    try {
      originHost = new URL(origin).host;
    } catch {
      // "null" or garbage: refused below
    }
    if (originHost === "" || originHost !== req.headers.get("host")) {
      throw new HttpError(
        403,
        "cross-origin requests may not change the agent",
        {},
        "cross-origin",
      );
    }
  }
  if (token) {
    const given = bearer(req);
    if (!given) {
      throw new HttpError(
        401,
        "this agent requires a token: Authorization: Bearer <token>",
        { "www-authenticate": 'Bearer realm="shoal"' },
        "unauthenticated",
      );
    }
    if (!sameSecret(given, token)) throw new HttpError(403, "wrong token", {}, "forbidden");
    return;
  }
  if (!isLoopback(remote)) {
    throw new HttpError(
      403,
      "only loopback callers may change this agent; start it with --http-token to allow others",
      {},
      "forbidden",
    );
  }
}

/** Most characters of an `Authorization` header looked at. */
const MAX_AUTHORIZATION = 4096;

/** The `Bearer` credential of `req`, or `""`. */
function bearer(req: Request): string {
  const auth = (req.headers.get("authorization") ?? "").slice(0, MAX_AUTHORIZATION);
  return auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : "";
}

/** The password of `req`'s HTTP Basic credentials, or `""`. */
function basicPassword(req: Request): string {
  const auth = (req.headers.get("authorization") ?? "").slice(0, MAX_AUTHORIZATION);
  if (!auth.toLowerCase().startsWith("basic ")) return "";
  let text: string;
  try {
    const bytes = Uint8Array.from(atob(auth.slice(6).trim()), (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return "";
  }
  const colon = text.indexOf(":");
  return colon < 0 ? "" : text.slice(colon + 1);
}

/**
 * Check that `req` may read the agent when reads are authenticated with `token`; throws an
 * {@linkcode HttpError} (401 with a Basic challenge, or 403) if not.
 */
export function authorizeRead(req: Request, token: string): void {
  const given = bearer(req) || basicPassword(req);
  if (!given) {
    throw new HttpError(
      401,
      "this agent requires its token for reads too: Authorization: Bearer <token>",
      { "www-authenticate": 'Basic realm="shoal", charset="UTF-8"' },
      "unauthenticated",
    );
  }
  if (!sameSecret(given, token)) throw new HttpError(403, "wrong token", {}, "forbidden");
}
