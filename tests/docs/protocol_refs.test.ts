/**
 * Every "§N" / "§N.M" reference in `src/` and `tests/` must name a heading of
 * `docs/protocol.md` (`## N.` or `### N.M `), and no source may still cite the old, absent
 * "spec §".
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, relative } from "node:path";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const TESTS = fileURLToPath(new URL("../../tests/", import.meta.url));
const DOC = fileURLToPath(new URL("../../docs/protocol.md", import.meta.url));

/** Every `.ts` file under `dir`, recursively, sorted. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(path));
    else if (entry.isFile() && entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** Section numbers that have a heading: "2" from "## 2. …", "7.6" from "### 7.6 …". */
function headings(markdown: string): Set<string> {
  const out = new Set<string>();
  for (const line of markdown.split("\n")) {
    const m = /^## (\d+)\. /.exec(line) ?? /^### (\d+\.\d+) /.exec(line);
    if (m) out.add(m[1]);
  }
  return out;
}

const read = (root: string, prefix: string) =>
  tsFiles(root).map((path) => ({
    name: `${prefix}/${relative(root, path)}`,
    lines: readFileSync(path, "utf8").split("\n"),
  }));
const sources = read(SRC, "src");
const tests = read(TESTS, "tests");

test("src/ has files to check and docs/protocol.md has headings", () => {
  assert.ok(sources.length > 0, "no .ts files found under src/");
  assert.ok(headings(readFileSync(DOC, "utf8")).size > 0, "no numbered headings in protocol.md");
});

test("every § reference in src/ and tests/ resolves to a heading of docs/protocol.md", () => {
  const known = headings(readFileSync(DOC, "utf8"));
  const missing: string[] = [];
  for (const { name, lines } of [...sources, ...tests]) {
    lines.forEach((line, i) => {
      for (const m of line.matchAll(/§(\d+(?:\.\d+)?)/g)) {
        if (!known.has(m[1])) missing.push(`${name}:${i + 1}: §${m[1]}`);
      }
    });
  }
  assert.deepEqual(missing, [], `references without a heading:\n${missing.join("\n")}`);
});

test('no file in src/ still cites "spec §"', () => {
  const stale: string[] = [];
  for (const { name, lines } of sources) {
    lines.forEach((line, i) => {
      if (line.includes("spec §")) stale.push(`${name}:${i + 1}`);
    });
  }
  assert.deepEqual(stale, [], `"spec §" should read "protocol.md §":\n${stale.join("\n")}`);
});
