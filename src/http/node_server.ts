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
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Uint8Array).byteLength;
      // Oversized bodies are cut here; the API refuses anything over the limit anyway.
      if (size <= MAX_BODY_BYTES + 1) chunks.push(chunk as Uint8Array);
    }
    body = new Uint8Array(Math.min(size, MAX_BODY_BYTES + 1));
    let at = 0;
    for (const c of chunks) {
      body.set(c.subarray(0, body.length - at), at);
      at += c.byteLength;
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
