/**
 * The `node:http` bridge for Node.js: turns `IncomingMessage` into a web `Request` and a web
 * `Response` (including streamed bodies, for Server-Sent Events) back into `ServerResponse`.
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { AddressInUseError } from "../transport/types.ts";
import { MAX_BODY_BYTES } from "./responses.ts";
import type { HttpServer, ServeOptions } from "./server_types.ts";

/**
 * Start a `node:http` server for `options.handler`. Rejects with `AddressInUseError` when
 * the port is taken.
 */
export function serveNode(options: ServeOptions): Promise<HttpServer> {
  const server = createServer((req, res) => {
    bridge(req, res, options).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end('{"error":"internal error"}\n');
    });
  });
  return new Promise<HttpServer>((resolve, reject) => {
    server.once("error", (error: Error & { code?: string }) => {
      reject(
        error.code === "EADDRINUSE"
          ? new AddressInUseError(options.host, options.port, { cause: error })
          : error,
      );
    });
    server.listen({ host: options.host, port: options.port }, () => {
      const addr = server.address() as AddressInfo;
      let closing: Promise<void> | undefined;
      resolve({
        host: addr.address,
        port: addr.port,
        close: () =>
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function bridge(req: IncomingMessage, res: ServerResponse, options: ServeOptions) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) { for (const v of value) headers.append(name, v); }
    else if (value !== undefined) headers.set(name, value);
  }
  let body: Uint8Array<ArrayBuffer> | undefined;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const { bytes, complete } = await readUpTo(req, MAX_BODY_BYTES + 1);
    body = bytes;
    if (!complete) {
      // Over the limit: the API answers 413; the rest is not read, the connection closes.
      res.shouldKeepAlive = false;
      res.on("finish", () => req.destroy());
    }
  }
  const host = req.headers.host ?? "localhost";
  const request = new Request(`http://${host}${req.url ?? "/"}`, {
    method: req.method,
    headers,
    body,
  });
  const response = await options.handler(request, req.socket.remoteAddress ?? "");
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => (out[name] = value));
  res.writeHead(response.status, out);
  if (!response.body || req.method === "HEAD") {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  res.on("close", () => reader.cancel().catch(() => {}));
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    res.write(value);
  }
  res.end();
}

/**
 * Read `req`'s body, stopping (paused, not drained) once `limit` bytes are in or when the
 * declared `Content-Length` is over it. `complete` is false when the body was not read whole.
 */
function readUpTo(
  req: IncomingMessage,
  limit: number,
): Promise<{ bytes: Uint8Array<ArrayBuffer>; complete: boolean }> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (!(declared < limit)) {
    req.pause();
    return Promise.resolve({ bytes: new Uint8Array(limit), complete: false });
  }
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const finish = (complete: boolean) => {
      req.off("data", onData).off("end", onEnd).off("error", onError);
      const bytes = new Uint8Array(Math.min(size, limit));
      let at = 0;
      for (const c of chunks) {
        if (at >= bytes.length) break;
        bytes.set(c.subarray(0, bytes.length - at), at);
        at += c.byteLength;
      }
      resolve({ bytes, complete });
    };
    const onData = (chunk: Uint8Array) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= limit) {
        req.pause();
        finish(false);
      }
    };
    const onEnd = () => finish(true);
    const onError = (error: Error) => {
      req.off("data", onData).off("end", onEnd).off("error", onError);
      reject(error);
    };
    req.on("data", onData).on("end", onEnd).on("error", onError);
  });
}
