import { test } from "node:test";
import assert from "node:assert/strict";
import { fingerprints } from "./_fingerprint.ts";

// Recorded before the core was restructured (issue 10), re-recorded when a failed probe stopped
// accusing a later life of its target. A change here is a behaviour change:
// re-record only on purpose (`deno run -A tests/sim/_fingerprint.ts`) and say why in the commit.
const RECORDED = [
  { scenario: "seed 1, 12 members, streams false", hash: "b4e014afcec40605" },
  { scenario: "seed 2, 12 members, streams true", hash: "e7f97f92436dc516" },
  { scenario: "seed 3, 30 members, streams false", hash: "524f71792dc0da07" },
  { scenario: "seed 4, 30 members, streams true", hash: "670407e6283a9b54" },
];

test("the simulator's observable behaviour matches the recorded fingerprints", () => {
  assert.deepEqual(fingerprints(), RECORDED);
});
