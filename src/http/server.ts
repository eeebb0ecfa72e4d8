/**
 * Serve a request handler with the runtime's own HTTP server: `Deno.serve` on Deno,
 * `Bun.serve` on Bun, `node:http` on Node.js.
 *
 * @module
 */

import { runtimeName } from "../transport/auto.ts";
import { AddressInUseError } from "../transport/types.ts";
import type { HttpServer, ServeOptions } from "./server_types.ts";

export type { HttpServer, ServeOptions } from "./server_types.ts";

/** The slice of `Deno.serve` used here. */
interface DenoServeLike {
  serve(
    options: {
      hostname: string;
      port: number;
      onListen?: (addr: unknown) => void;
      onError?: (error: unknown) => Response;
    },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>,
  ): { addr: { hostname: string; port: number }; shutdown(): Promise<void> };
}

/** The slice of `Bun.serve` used here. */
interface BunServeLike {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch(
      req: Request,
      server: { requestIP(req: Request): { address: string } | null },
    ): Promise<Response>;
    error?(error: unknown): Response;
  }): { hostname?: string; port: number; stop(closeActive?: boolean): unknown };
}

const internalError = (): Response =>
  new Response('{"error":"internal error"}\n', {
    status: 500,
    headers: { "content-type": "application/json" },
  });

/**
 * Start an HTTP server. Rejects with `AddressInUseError` when the port is taken.
 *
 * @example
 * ```ts ignore
 * const server = await serveHttp({ host: "127.0.0.1", port: 0, handler: api.handle });
 * console.log(`http://${server.host}:${server.port}/`);
 * await server.close();
 * ```
 */
export async function serveHttp(options: ServeOptions): Promise<HttpServer> {
  const runtime = runtimeName();
  if (runtime === "deno") return serveDeno(options);
  if (runtime === "bun") return serveBun(options);
  const { serveNode } = await import("./node_server.ts");
  return serveNode(options);
}

function serveDeno(options: ServeOptions): HttpServer {
  const deno = (globalThis as unknown as { Deno: DenoServeLike }).Deno;
  let server: ReturnType<DenoServeLike["serve"]>;
  try {
    server = deno.serve(
      {
        hostname: options.host,
        port: options.port,
        onListen: () => {}, // no "Listening on" banner
        onError: internalError,
      },
      (req, info) => options.handler(req, info.remoteAddr.hostname),
    );
  } catch (error) {
    if ((error as Error)?.name === "AddrInUse") {
      throw new AddressInUseError(options.host, options.port, { cause: error });
    }
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    host: server.addr.hostname,
    port: server.addr.port,
    close: () => (closing ??= server.shutdown().catch(() => {})),
  };
}

function serveBun(options: ServeOptions): HttpServer {
  const bun = (globalThis as unknown as { Bun: BunServeLike }).Bun;
  let server: ReturnType<BunServeLike["serve"]>;
  try {
    server = bun.serve({
      hostname: options.host,
      port: options.port,
      idleTimeout: 60, // seconds; event streams write at least every few seconds
      fetch: (req, srv) => options.handler(req, srv.requestIP(req)?.address ?? ""),
      error: internalError,
    });
  } catch (error) {
    const code = (error as { code?: string })?.code;
    if (code === "EADDRINUSE" || /in use/i.test(String((error as Error)?.message))) {
      throw new AddressInUseError(options.host, options.port, { cause: error });
    }
    throw error;
  }
  let closed = false;
  return {
    host: options.host,
    port: server.port,
    close: () => {
      if (!closed) {
        closed = true;
        server.stop(true);
      }
      return Promise.resolve();
    },
  };
}
