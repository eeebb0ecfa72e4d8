/**
 * The shapes shared by the HTTP server adapters (`server.ts`, `node_server.ts`).
 *
 * @module
 */

import type { RequestHandler } from "./api.ts";

/** A listening HTTP server. */
export interface HttpServer {
  /** The bound IP address. */
  readonly host: string;
  /** The bound port (resolved when 0 was asked for). */
  readonly port: number;
  /** Stop accepting, drop open connections, release the port. Idempotent. */
  close(): Promise<void>;
}

/** Options of `serveHttp` (`server.ts`) and `serveNode` (`node_server.ts`). */
export interface ServeOptions {
  /** IP address to bind. */
  readonly host: string;
  /** Port to bind; 0 lets the OS choose. */
  readonly port: number;
  /** The request handler. */
  readonly handler: RequestHandler;
}
