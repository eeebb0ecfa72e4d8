/**
 * Human-readable output of the CLI: the members table and one-line events.
 *
 * @module
 */

import type { EventJson, MemberJson } from "../http/json.ts";

/** Tags as `k=v,k=v` (sorted), or the raw metadata as base64. */
export function formatTags(member: MemberJson): string {
  if (member.meta) {
    return Object.keys(member.meta).sort().map((k) => `${k}=${member.meta![k]}`).join(",");
  }
  return member.metaBase64 ? `base64:${member.metaBase64}` : "";
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatHostPort(member: MemberJson): string {
  return member.address.includes(":")
    ? `[${member.address}]:${member.port}`
    : `${member.address}:${member.port}`;
}

/**
 * Members as an aligned table, like `serf members`.
 *
 * @example
 * ```ts ignore
 * console.log(membersTable(members));
 * // Name  Address         Status  Incarnation  Tags
 * // a     127.0.0.1:7946  alive   1            role=web
 * ```
 */
export function membersTable(members: readonly MemberJson[]): string {
  const rows = [
    ["Name", "Address", "Status", "Incarnation", "Tags"],
    ...members.map((m) => [
      m.name,
      formatHostPort(m),
      m.state,
      String(m.incarnation),
      formatTags(m),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) => r.map((cell, i) => i === r.length - 1 ? cell : cell.padEnd(widths[i])).join("  "))
    .map((line) => line.trimEnd())
    .join("\n");
}

/** One event as a log line: time, type, member, address, incarnation, tags. */
export function eventLine(event: EventJson): string {
  const m = event.member;
  const tags = formatTags(m);
  return `${event.time} ${event.type.padEnd(7)} ${m.name} ${formatHostPort(m)} ` +
    `incarnation=${m.incarnation}${tags ? ` ${tags}` : ""}`;
}
