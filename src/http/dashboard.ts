/**
 * The live dashboard served at `GET /`: one self-contained HTML page (inline CSS and script,
 * no build step, no external requests) that follows `GET /v1/events` and shows every member
 * with its state, incarnation, address, metadata and when it last changed, plus the local
 * member's health score.
 *
 * The page keeps one table row per member and applies changes in place, at most once per
 * animation frame, so a burst of events from hundreds of members costs one layout. Rows carry
 * `data-member` and `data-state` attributes, which the browser test reads.
 *
 * @module
 */

const STYLE = `
:root {
  --bg: #f6f7f9; --panel: #fff; --text: #1d232b; --muted: #66707c; --line: #e3e6ea;
  --alive: #1f9d55; --alive-bg: #e8f6ee; --suspect: #b7791f; --suspect-bg: #fff4dc;
  --unreachable: #c05621; --unreachable-bg: #feebdc;
  --dead: #c53030; --dead-bg: #fde8e8; --left: #718096; --left-bg: #edf0f3;
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 16px 28px;
  padding: 16px 24px; background: var(--panel); border-bottom: 1px solid var(--line); }
h1 { margin: 0; font-size: 20px; letter-spacing: .5px; }
h1 small { font-weight: 400; color: var(--muted); font-size: 13px; margin-left: 6px; }
.stat { display: flex; flex-direction: column; }
.stat b { font-size: 22px; font-variant-numeric: tabular-nums; }
.stat span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px; }
#health b.good { color: var(--alive); } #health b.warn { color: var(--suspect); }
#health b.bad { color: var(--dead); }
.counts { display: flex; gap: 8px; }
.chip { border-radius: 999px; padding: 3px 10px; font-weight: 600; font-size: 13px; }
.chip.alive { background: var(--alive-bg); color: var(--alive); }
.chip.suspect { background: var(--suspect-bg); color: var(--suspect); }
.chip.unreachable { background: var(--unreachable-bg); color: var(--unreachable); }
.chip.dead { background: var(--dead-bg); color: var(--dead); }
.chip.left { background: var(--left-bg); color: var(--left); }
#conn { margin-left: auto; color: var(--muted); font-size: 13px; }
#conn::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 50%;
  margin-right: 6px; background: var(--left); vertical-align: middle; }
#conn.live::before { background: var(--alive); }
#conn.down::before { background: var(--dead); }
main { padding: 16px 24px; }
.tools { display: flex; gap: 12px; margin-bottom: 12px; align-items: center; }
.tools input, .tools select { font: inherit; padding: 6px 10px; border: 1px solid var(--line);
  border-radius: 6px; background: var(--panel); }
.tools input { width: 280px; }
#shown { color: var(--muted); }
table { width: 100%; border-collapse: collapse; background: var(--panel);
  border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 7px 12px; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .6px; color: var(--muted);
  background: #fafbfc; }
td.num { font-variant-numeric: tabular-nums; }
td.meta { white-space: normal; }
.tag { display: inline-block; margin: 1px 4px 1px 0; padding: 0 6px; border-radius: 4px;
  background: #eef1f5; font-family: ui-monospace, Menlo, monospace; font-size: 12px; }
.badge { display: inline-flex; align-items: center; gap: 6px; font-weight: 600;
  text-transform: uppercase; font-size: 12px; letter-spacing: .5px; padding: 2px 8px;
  border-radius: 4px; }
.badge::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: currentColor; }
tr[data-state="alive"] .badge { color: var(--alive); background: var(--alive-bg); }
tr[data-state="suspect"] { background: var(--suspect-bg); }
tr[data-state="suspect"] .badge { color: var(--suspect); background: #ffe7b3; }
tr[data-state="suspect"] .badge::before { animation: pulse 1s ease-in-out infinite; }
tr[data-state="unreachable"] { background: var(--unreachable-bg); }
tr[data-state="unreachable"] .badge { color: #fff; background: var(--unreachable); }
tr[data-state="dead"] { background: var(--dead-bg); }
tr[data-state="dead"] .badge { color: #fff; background: var(--dead); }
tr[data-state="dead"] td.name { text-decoration: line-through; color: var(--dead); }
tr[data-state="left"] { color: var(--left); font-style: italic; }
tr[data-state="left"] .badge { color: var(--left); background: var(--left-bg); }
tr.self td.name::after { content: "this agent"; margin-left: 8px; font-size: 11px; font-style: normal;
  color: var(--muted); border: 1px solid var(--line); border-radius: 4px; padding: 0 4px; }
tr.flash { animation: flash 1.2s ease-out; }
@keyframes pulse { 50% { opacity: .25; } }
@keyframes flash { from { box-shadow: inset 4px 0 0 #3182ce; } to { box-shadow: inset 4px 0 0 transparent; } }
.empty { padding: 24px; text-align: center; color: var(--muted); }
`;

const SCRIPT = `
"use strict";
var STATES = ["alive", "suspect", "unreachable", "dead", "left"];
var SEVERITY = { dead: 0, unreachable: 1, suspect: 2, left: 3, alive: 4 };
var rows = new Map();      // name -> { data, tr, cells }
var dirty = new Set();     // names whose row must be redrawn
var resort = false, frame = 0, self = "", health = null;
var $ = function (id) { return document.getElementById(id); };
var tbody = $("members");
var collator = new Intl.Collator(undefined, { numeric: true });

function el(tag, cls, text) {
  var e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function ago(iso) {
  if (!iso) return "";
  var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s ago";
  return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m ago";
}

function upsert(m, flash) {
  var r = rows.get(m.name);
  if (!r) {
    var tr = el("tr");
    tr.dataset.member = m.name;
    var cells = {
      name: el("td", "name"), state: el("td", "state"), inc: el("td", "num inc"),
      addr: el("td", "addr"), meta: el("td", "meta"), changed: el("td", "changed")
    };
    cells.state.appendChild(el("span", "badge"));
    for (var k in cells) tr.appendChild(cells[k]);
    r = { data: m, tr: tr, cells: cells };
    rows.set(m.name, r);
    resort = true;
  } else {
    if (r.data.state !== m.state || r.data.changedAt !== m.changedAt) resort = true;
    r.data = m;
  }
  r.flash = r.flash || flash;
  dirty.add(m.name);
  schedule();
}

function draw(r) {
  var m = r.data, c = r.cells;
  r.tr.dataset.state = m.state;
  r.tr.classList.toggle("self", m.name === self);
  c.name.textContent = m.name;
  c.state.firstChild.textContent = m.state;
  c.inc.textContent = String(m.incarnation);
  c.addr.textContent = m.address + ":" + m.port;
  c.meta.replaceChildren();
  if (m.meta) {
    Object.keys(m.meta).sort().forEach(function (k) {
      c.meta.appendChild(el("span", "tag", k + "=" + m.meta[k]));
    });
  } else if (m.metaBase64) {
    c.meta.appendChild(el("span", "tag", "base64:" + m.metaBase64));
  }
  c.changed.textContent = ago(m.changedAt);
  c.changed.title = m.changedAt || "";
  if (r.flash) {
    r.flash = false;
    r.tr.classList.remove("flash");
    void r.tr.offsetWidth;
    r.tr.classList.add("flash");
  }
}

function schedule() {
  if (!frame) frame = requestAnimationFrame(render);
}

function matches(m, q) {
  if (!q) return true;
  var hay = m.name + " " + m.state + " " + m.address + ":" + m.port;
  if (m.meta) for (var k in m.meta) hay += " " + k + "=" + m.meta[k];
  return hay.toLowerCase().indexOf(q) >= 0;
}

function compare(a, b) {
  var by = $("sort").value;
  if (by === "state") {
    var d = (SEVERITY[a.data.state] || 0) - (SEVERITY[b.data.state] || 0);
    if (d) return d;
  } else if (by === "changed") {
    var t = Date.parse(b.data.changedAt || 0) - Date.parse(a.data.changedAt || 0);
    if (t) return t;
  }
  return collator.compare(a.data.name, b.data.name);
}

function render() {
  frame = 0;
  dirty.forEach(function (name) { var r = rows.get(name); if (r) draw(r); });
  dirty.clear();
  var q = $("filter").value.trim().toLowerCase();
  var shown = 0;
  rows.forEach(function (r) {
    var ok = matches(r.data, q);
    r.tr.hidden = !ok;
    if (ok) shown++;
  });
  if (resort) {
    resort = false;
    var sorted = Array.from(rows.values()).sort(compare);
    var frag = document.createDocumentFragment();
    sorted.forEach(function (r) { frag.appendChild(r.tr); });
    tbody.replaceChildren(frag);
  }
  var counts = {};
  STATES.forEach(function (s) { counts[s] = 0; });
  rows.forEach(function (r) { counts[r.data.state] = (counts[r.data.state] || 0) + 1; });
  STATES.forEach(function (s) { $("count-" + s).textContent = counts[s] + " " + s; });
  $("count-unreachable").hidden = counts.unreachable === 0;
  $("total").textContent = String(rows.size);
  $("shown").textContent = shown === rows.size ? "" : shown + " of " + rows.size + " shown";
  $("empty").hidden = rows.size > 0;
  drawHealth();
}

function drawHealth() {
  if (!health) return;
  var b = $("health-score");
  b.textContent = String(health.healthScore);
  b.className = health.healthScore === 0 ? "good" : health.healthScore < 4 ? "warn" : "bad";
  b.title = health.healthScoreKnown
    ? "Lifeguard local health score: 0 is healthy"
    : "this core does not report a Lifeguard health score yet; shown as 0";
  $("health-note").textContent = health.healthScoreKnown ? "health score" : "health score (n/a)";
  $("local-state").textContent = health.state;
}

function connect() {
  var es = new EventSource("v1/events");
  es.addEventListener("open", function () {
    $("conn").className = "live";
    $("conn").textContent = "live";
  });
  es.addEventListener("error", function () {
    $("conn").className = "down";
    $("conn").textContent = "reconnecting…";
    // The browser retries a dropped stream itself, but not a refused one (e.g. 503).
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
  es.addEventListener("snapshot", function (e) {
    var snap = JSON.parse(e.data);
    self = snap.self;
    health = snap.health;
    $("self").textContent = self;
    document.title = "shoal · " + self;
    var seen = new Set();
    snap.members.forEach(function (m) { seen.add(m.name); upsert(m, false); });
    rows.forEach(function (r, name) {
      if (!seen.has(name)) { r.tr.remove(); rows.delete(name); }
    });
    resort = true;
    schedule();
    document.body.dataset.ready = "1";
  });
  es.addEventListener("member", function (e) {
    var ev = JSON.parse(e.data);
    upsert(ev.member, true);
  });
  es.addEventListener("health", function (e) {
    health = JSON.parse(e.data);
    schedule();
  });
}

$("filter").addEventListener("input", schedule);
$("sort").addEventListener("change", function () { resort = true; schedule(); });
setInterval(function () {
  rows.forEach(function (r) { r.cells.changed.textContent = ago(r.data.changedAt); });
}, 1000);
connect();
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>shoal</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>shoal <small>cluster as seen by <span id="self">…</span></small></h1>
  <div class="stat" id="health"><b id="health-score">–</b><span id="health-note">health score</span></div>
  <div class="stat"><b id="local-state">–</b><span>local state</span></div>
  <div class="stat"><b id="total">0</b><span>members</span></div>
  <div class="counts">
    <span class="chip alive" id="count-alive">0 alive</span>
    <span class="chip suspect" id="count-suspect">0 suspect</span>
    <span class="chip unreachable" id="count-unreachable" hidden>0 unreachable</span>
    <span class="chip dead" id="count-dead">0 dead</span>
    <span class="chip left" id="count-left">0 left</span>
  </div>
  <div id="conn">connecting…</div>
</header>
<main>
  <div class="tools">
    <input id="filter" type="search" placeholder="Filter: name, state, address, tag">
    <label>Sort <select id="sort">
      <option value="name">by name</option>
      <option value="state">by state (trouble first)</option>
      <option value="changed">by last change</option>
    </select></label>
    <span id="shown"></span>
  </div>
  <table>
    <thead><tr><th>Member</th><th>State</th><th>Incarnation</th><th>Address</th><th>Metadata</th><th>Changed</th></tr></thead>
    <tbody id="members"></tbody>
  </table>
  <div class="empty" id="empty">Waiting for the agent…</div>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

/**
 * The dashboard page: a complete HTML document with inline CSS and script that connects to
 * `v1/events` relative to its own URL.
 *
 * @example
 * ```ts
 * import { dashboardHtml } from "./dashboard.ts";
 * const page = new Response(dashboardHtml(), { headers: { "content-type": "text/html" } });
 * ```
 */
export function dashboardHtml(): string {
  return PAGE;
}
