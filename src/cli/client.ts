/**
 * A small client for a running agent's HTTP API, used by `shoal members`, `join`, `leave`
 * and `monitor`.
 *
 * @module
 */

import process from "node:process";
import { AddressError, parseAddress } from "../core/address.ts";
import { CommandError, UsageError } from "./usage.ts";

/** Default agent address when neither `--http` nor `SHOAL_HTTP_ADDR` is given. */
export const DEFAULT_HTTP_ADDR = "127.0.0.1:7373";

/** Talks to one agent. */
export class AgentClient {
  /** The agent's base URL, e.g. `http://127.0.0.1:7373`. */
  readonly base: string;
  readonly #token: string | undefined;

  /**
   * Client for the agent at `http` (`host:port`; default `SHOAL_HTTP_ADDR` or
   * {@linkcode DEFAULT_HTTP_ADDR}), with `token` (default `SHOAL_HTTP_TOKEN`).
   */
  constructor(http?: string, token?: string) {
    const addr = http ?? process.env.SHOAL_HTTP_ADDR ?? DEFAULT_HTTP_ADDR;
    let host: string, port: number;
    try {
      ({ host, port } = parseAddress(addr, 7373));
    } catch (error) {
      if (error instanceof AddressError) throw new UsageError(`--http: ${error.message}`);
      throw error;
    }
    this.base = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.#token = token ?? process.env.SHOAL_HTTP_TOKEN ?? undefined;
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token}`, ...extra } : extra;
  }

  async #fetch(path: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(this.base + path, init);
    } catch (error) {
      if ((error as Error)?.name === "AbortError") throw error;
      throw new CommandError(
        `cannot reach the agent at ${this.base} (is it running with --http?)`,
      );
    }
  }

  async #json(res: Response): Promise<unknown> {
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CommandError(`unexpected response from ${this.base} (HTTP ${res.status})`);
    }
    if (!res.ok) {
      const message = (body as { error?: unknown })?.error;
      throw new CommandError(`agent refused: ${String(message ?? `HTTP ${res.status}`)}`);
    }
    return body;
  }

  /** `GET path` as JSON. */
  async get(path: string): Promise<unknown> {
    return this.#json(await this.#fetch(path, { headers: this.#headers() }));
  }

  /** `POST path` with a JSON body. */
  async post(path: string, body: unknown): Promise<unknown> {
    return this.#json(
      await this.#fetch(path, {
        method: "POST",
        headers: this.#headers({ "content-type": "application/json" }),
        body: JSON.stringify(body),
      }),
    );
  }

  /**
   * Follow `GET /v1/events`, calling `onEvent(name, data)` per server-sent event until the
   * stream ends (resolves) or `signal` aborts (resolves too).
   */
  async events(
    onEvent: (event: string, data: unknown) => void,
    signal?: AbortSignal,
  ): Promise<void> {
    let res: Response;
    try {
      res = await this.#fetch("/v1/events", {
        headers: this.#headers({ accept: "text/event-stream" }),
        signal,
      });
    } catch (error) {
      if ((error as Error)?.name === "AbortError") return;
      throw error;
    }
    if (!res.ok || !res.body) await this.#json(res);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buffer += value;
        let cut: number;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = "message", data = "";
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
          }
          if (data) onEvent(event, JSON.parse(data));
        }
      }
    } catch (error) {
      if (signal?.aborted || (error as Error)?.name === "AbortError") return;
      throw new CommandError(`lost the event stream from ${this.base}`);
    } finally {
      reader.releaseLock();
    }
  }
}
