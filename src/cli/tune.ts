/**
 * `--tune KEY=VALUE`: protocol settings from the command line. Keys are `SwimConfig` field
 * names (`probeInterval`), or `group.field` for nested groups (`lifeguard.awareness`); the
 * value is parsed by the type of the preset's default (number, boolean or string).
 * `flapDamping=off` turns flap damping off.
 *
 * @module
 */

import { type ConfigOverrides, lanConfig } from "../core/config.ts";
import { UsageError } from "./usage.ts";

/** Every settable key, nested groups flattened as `group.field`. */
export function tunableKeys(): string[] {
  const keys: string[] = [];
  for (const [key, value] of Object.entries(lanConfig)) {
    if (value !== null && typeof value === "object") {
      for (const sub of Object.keys(value)) keys.push(`${key}.${sub}`);
    } else keys.push(key);
  }
  keys.push("flapDamping");
  return keys;
}

function parseValue(key: string, text: string, like: unknown): unknown {
  if (typeof like === "number") {
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n)) {
      throw new UsageError(`--tune ${key}: "${text}" is not a number`);
    }
    return n;
  }
  if (typeof like === "boolean") {
    if (text !== "true" && text !== "false") {
      throw new UsageError(`--tune ${key}: use true or false, not "${text}"`);
    }
    return text === "true";
  }
  return text;
}

/**
 * Parse `--tune` arguments into config overrides (ranges are checked later by
 * `resolveConfig`).
 *
 * @example
 * ```ts
 * import { parseTune } from "./tune.ts";
 * parseTune(["probeInterval=200", "lifeguard.awareness=false", "flapDamping.suppress=2"]);
 * // { probeInterval: 200, lifeguard: { awareness: false }, flapDamping: { suppress: 2 } }
 * parseTune(["flapDamping=off"]); // { flapDamping: null }
 * ```
 */
export function parseTune(args: readonly string[]): ConfigOverrides {
  const out: Record<string, unknown> = {};
  const known = tunableKeys();
  const defaults = lanConfig as unknown as Record<string, unknown>;
  for (const arg of args) {
    const eq = arg.indexOf("=");
    const key = eq > 0 ? arg.slice(0, eq) : arg;
    if (eq <= 0 || !known.includes(key)) {
      throw new UsageError(`--tune expects KEY=VALUE with KEY one of: ${known.join(", ")}`);
    }
    const text = arg.slice(eq + 1);
    if (key === "flapDamping") {
      if (text !== "off") throw new UsageError(`--tune flapDamping: only "off" is accepted`);
      out.flapDamping = null;
      continue;
    }
    const [group, field] = key.split(".");
    if (field === undefined) out[key] = parseValue(key, text, defaults[key]);
    else {
      const base = defaults[group] as Record<string, unknown>;
      const sub = (out[group] ??= {}) as Record<string, unknown>;
      sub[field] = parseValue(key, text, base[field]);
    }
  }
  return out as ConfigOverrides;
}
