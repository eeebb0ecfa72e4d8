import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const coreDir = fileURLToPath(new URL("../../src/core/", import.meta.url));

test("src/core imports nothing runtime-specific and uses no ambient clock or randomness", () => {
  const files = readdirSync(coreDir).filter((f) => f.endsWith(".ts"));
  assert.ok(files.length >= 8, "expected the core's files");
  const forbidden: [RegExp, string][] = [
    [/from\s+["'](node:|npm:|jsr:|https?:)/, "runtime or remote import"],
    [/import\s*\(/, "dynamic import"],
    [/\bDeno\./, "Deno API"],
    [/\bBun\./, "Bun API"],
    [/\brequire\(/, "require"],
    [/\bDate\.now\(|new Date\(/, "ambient clock"],
    [/\bperformance\.now\(/, "ambient clock"],
    [/\bMath\.random\(/, "ambient randomness"],
    [/\bset(Timeout|Interval)\(/, "timer"],
    [/\bcrypto\./, "crypto"],
  ];
  const problems: string[] = [];
  for (const file of files) {
    const text = readFileSync(coreDir + file, "utf8");
    // Ignore mentions inside comments (JSDoc examples import the package).
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    for (const match of code.matchAll(/from\s+["']([^"']+)["']/g)) {
      if (!match[1].startsWith("./")) {
        problems.push(`${file}: imports ${match[1]} (outside src/core)`);
      }
    }
    for (const [re, what] of forbidden) {
      if (re.test(code)) problems.push(`${file}: ${what}`);
    }
  }
  assert.deepEqual(problems, []);
});
