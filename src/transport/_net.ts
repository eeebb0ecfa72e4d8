/**
 * Small pieces the socket adapters share.
 *
 * @module
 */

import { AddressInUseError } from "./types.ts";

/** Turns an IPv4-mapped IPv6 address (from a dual-stack socket) back into a dotted quad. */
export function plainHost(host: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(host);
  return mapped ? mapped[1] : host;
}

/** An unref'd delay, so backing off never keeps the process alive. */
export function unrefDelay(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms) as { unref?: () => void };
    timer.unref?.();
  });
}

/**
 * A bind or listen failure as thrown to callers: {@linkcode AddressInUseError} when the
 * address is taken (code `EADDRINUSE` on Bun and `node:*`, name `AddrInUse` on Deno), else
 * `error` itself.
 */
export function bindError(error: unknown, host: string, port: number): unknown {
  const e = error as { code?: unknown; name?: unknown } | undefined;
  return e?.code === "EADDRINUSE" || e?.name === "AddrInUse"
    ? new AddressInUseError(host, port, { cause: error })
    : error;
}
