/**
 * The live dashboard served at `GET /`: one self-contained HTML page (inline CSS and script,
 * no build step, no external requests) that follows `GET /v1/events` and shows every member
 * with its state, incarnation, address, metadata and when it last changed, plus the local
 * member's health score.
 *
 * Above the table, four hand-drawn SVG charts cover the last few minutes (the snapshot's
 * `history`, then `member` and `stats` events; see `history.ts`): a timeline of state changes
 * per member, the local health score, packets/s in and out, and the probe RTT histogram. No
 * chart library: the four are a few hundred lines of plain DOM, which keeps the page one small
 * offline file under the API's CSP (inline script, no external requests) with nothing to bundle
 * or update. The page keeps its history bounded too (the server's window, at most 4,096 changes).
 *
 * The page keeps one table row per member and applies changes in place, at most once per
 * animation frame, so a burst of events from hundreds of members costs one layout. Rows carry
 * `data-member` and `data-state` attributes, which the browser test reads; chart elements carry
 * `data-*` attributes too (lanes `data-member`, segments `data-state`, bars `data-count`).
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
.charts { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 16px;
  margin-bottom: 16px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px 14px 8px; min-width: 0; }
.card.wide { grid-column: 1 / -1; }
.card h2 { display: flex; align-items: baseline; gap: 10px; margin: 0 0 6px; font-size: 13px;
  text-transform: uppercase; letter-spacing: .6px; color: var(--muted); font-weight: 600; }
.card h2 .value { margin-left: auto; text-transform: none; letter-spacing: 0; font-size: 13px;
  color: var(--text); font-variant-numeric: tabular-nums; font-weight: 600; }
.card h2 .note { text-transform: none; letter-spacing: 0; font-weight: 400; overflow: hidden;
  text-overflow: ellipsis; }
.card h2 > * { white-space: nowrap; }
.card h2 .value.in { color: #2b6cb0; } .card h2 .value.out { color: #805ad5; margin-left: 0; }
.card svg { display: block; width: 100%; overflow: visible; }
.legend { display: flex; gap: 12px; margin-left: 8px; text-transform: none; letter-spacing: 0;
  font-weight: 400; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin-right: 4px; vertical-align: -1px; }
.note { color: var(--muted); font-size: 12px; }
svg text { font: 11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; fill: var(--muted); }
svg text.lane-name { fill: var(--text); font-size: 12px; }
svg text.empty-msg { font-size: 13px; }
svg .grid { stroke: var(--line); stroke-width: 1; shape-rendering: crispEdges; }
svg .axis { stroke: #c9ced6; stroke-width: 1; shape-rendering: crispEdges; }
svg .line { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg .line.health { stroke: var(--alive); } svg .area.health { fill: var(--alive); opacity: .12; }
svg .line.in { stroke: #2b6cb0; } svg .area.in { fill: #2b6cb0; opacity: .10; }
svg .line.out { stroke: #805ad5; }
svg .bar { fill: #4a90d9; } svg .bar.empty { fill: var(--line); }
svg .lane-bg { fill: #f3f5f8; }
svg .seg { shape-rendering: crispEdges; }
svg .seg[data-state="alive"] { fill: #b7e4c7; } svg .seg[data-state="suspect"] { fill: #ecb22e; }
svg .seg[data-state="unreachable"] { fill: #dd6b20; } svg .seg[data-state="dead"] { fill: #d64545; }
svg .seg[data-state="left"] { fill: #a0aec0; }
svg .mark { fill: var(--panel); stroke: #4a5568; stroke-width: 1.5; }
svg .mark[data-type="join"], svg .mark[data-type="alive"] { stroke: var(--alive); }
svg .mark[data-type="suspect"] { stroke: #b7791f; } svg .mark[data-type="dead"] { stroke: var(--dead); }
svg .mark[data-type="leave"] { stroke: var(--left); }
svg .now { stroke: #3182ce; stroke-dasharray: 3 3; }
i.s-alive { background: #b7e4c7; } i.s-suspect { background: #ecb22e; }
i.s-unreachable { background: #dd6b20; } i.s-dead { background: #d64545; } i.s-left { background: #a0aec0; }
i.c-in { background: #2b6cb0; } i.c-out { background: #805ad5; }
@media (max-width: 900px) { .charts { grid-template-columns: minmax(0, 1fr); } }
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
  if (chartsDirty) drawCharts();
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

// ---- charts: hand-drawn SVG over the last few minutes ----
var SVGNS = "http://www.w3.org/2000/svg";
var MAX_TIMELINE = 4096, MAX_LANES = 12, MIN_SPAN_MS = 20000;
var hist = { windowMs: 300000, intervalMs: 1000, samples: [], timeline: [], rtt: null };
var clockOffset = 0;       // the agent's clock minus ours, ms (from each sample's time)
var chartsDirty = true;

function sv(tag, attrs, parent) {
  var e = document.createElementNS(SVGNS, tag);
  for (var k in attrs) e.setAttribute(k, String(attrs[k]));
  if (parent) parent.appendChild(e);
  return e;
}
function label(parent, x, y, text, cls, anchor) {
  var t = sv("text", { x: x, y: y, "text-anchor": anchor || "start" }, parent);
  if (cls) t.setAttribute("class", cls);
  t.textContent = text;
  return t;
}
function tip(e, text) { sv("title", {}, e).textContent = text; return e; }
function fmt(n) { return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10); }
function clock(t) { return new Date(t - clockOffset).toLocaleTimeString(); }
function agentNow() { return Date.now() + clockOffset; }

/** The time span drawn: the last windowMs, or less while the history is younger (≥ 20 s). */
function span() {
  var now = agentNow(), first = now;
  if (hist.samples.length) first = Math.min(first, hist.samples[0].t);
  if (hist.timeline.length) first = Math.min(first, hist.timeline[0].t);
  return { start: Math.max(now - hist.windowMs, Math.min(first, now - MIN_SPAN_MS)), end: now };
}

function pruneHistory() {
  var cutoff = agentNow() - hist.windowMs;
  var maxSamples = Math.ceil(hist.windowMs / hist.intervalMs) + 1;
  var i = 0;
  while (i < hist.samples.length && (hist.samples[i].t < cutoff || hist.samples.length - i > maxSamples)) i++;
  if (i) hist.samples.splice(0, i);
  i = 0;
  while (i < hist.timeline.length && (hist.timeline[i].t < cutoff || hist.timeline.length - i > MAX_TIMELINE)) i++;
  if (i) hist.timeline.splice(0, i);
}

/** Prepare an SVG: clear it, return its pixel size. */
function canvas(svg) {
  svg.replaceChildren();
  var w = Math.max(200, Math.round(svg.getBoundingClientRect().width || 400));
  var h = Number(svg.getAttribute("height")) || 150;
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  return { w: w, h: h };
}

/** Time ticks: minute marks over long spans, 15 or 30 s ones over short. */
function timeTicks(g, d, x, y0, y1) {
  var spanMs = d.end - d.start;
  var step = spanMs > 180000 ? 60000 : spanMs > 90000 ? 30000 : spanMs > 40000 ? 15000 : 5000;
  for (var k = 0; k * step <= spanMs && k < 64; k++) {
    var t = d.end - k * step, px = x(t);
    sv("line", { class: "grid", x1: px, x2: px, y1: y0, y2: y1 }, g);
    var secs = (k * step) / 1000;
    var text = k === 0 ? "now" : secs % 60 === 0 ? "−" + secs / 60 + "m" : "−" + secs + "s";
    label(g, px, y1 + 14, text, "", k === 0 ? "end" : "middle");
  }
}

function niceMax(v, floor) {
  v = Math.max(v, floor);
  var p = Math.pow(10, Math.floor(Math.log10(v)));
  var steps = [1, 2, 2.5, 5, 10];
  for (var i = 0; i < steps.length; i++) if (steps[i] * p >= v) return steps[i] * p;
  return 10 * p;
}

/** Line chart of series ([{cls, key, area}]) over the samples. */
function lineChart(svg, series, opts) {
  var size = canvas(svg), d = span();
  var L = 36, R = 8, T = 8, B = 20, W = size.w - L - R, H = size.h - T - B;
  var pts = hist.samples.filter(function (s) { return s.t >= d.start; });
  var max = 0;
  pts.forEach(function (s) { series.forEach(function (se) { max = Math.max(max, s[se.key]); }); });
  var top = niceMax(max, opts.floor);
  var x = function (t) { return L + ((t - d.start) / Math.max(1, d.end - d.start)) * W; };
  var y = function (v) { return T + H - (v / top) * H; };
  var g = sv("g", {}, svg);
  [0, 0.5, 1].forEach(function (f) {
    var v = top * f;
    sv("line", { class: f ? "grid" : "axis", x1: L, x2: L + W, y1: y(v), y2: y(v) }, g);
    label(g, L - 6, y(v) + 4, fmt(v), "", "end");
  });
  timeTicks(g, d, x, T, T + H);
  svg.dataset.max = String(max);
  svg.dataset.samples = String(pts.length);
  series.forEach(function (se) {
    var dd = "", area = "", prev = null, n = 0;
    pts.forEach(function (s) {
      var px = x(s.t).toFixed(1), py = y(s[se.key]).toFixed(1);
      var gap = !prev || s.t - prev.t > 3 * hist.intervalMs;
      if (gap) {
        dd += "M" + px + "," + py;
        area += (area ? "V" + y(0).toFixed(1) : "") + "M" + px + "," + y(0).toFixed(1) + "V" + py;
      } else if (se.step) {
        dd += "H" + px + "V" + py;
        area += "H" + px + "V" + py;
      } else {
        dd += "L" + px + "," + py;
        area += "L" + px + "," + py;
      }
      prev = s;
      n++;
    });
    if (se.area && area) sv("path", { class: "area " + se.cls, d: area + "V" + y(0).toFixed(1) + "Z" }, svg);
    var path = sv("path", { class: "line " + se.cls, d: dd }, svg);
    path.dataset.points = String(n);
  });
  if (!pts.length) label(svg, L + W / 2, T + H / 2, "collecting samples…", "empty-msg", "middle");
}

function drawHealthChart() {
  lineChart($("chart-health"), [{ cls: "health", key: "healthScore", area: true, step: true }], { floor: 4 });
  var last = hist.samples[hist.samples.length - 1];
  $("health-now").textContent = last ? "now " + last.healthScore : "";
}

function drawPacketsChart() {
  lineChart($("chart-packets"), [
    { cls: "in", key: "packetsInPerSec", area: true },
    { cls: "out", key: "packetsOutPerSec" },
  ], { floor: 5 });
  var last = hist.samples[hist.samples.length - 1];
  $("packets-in-now").textContent = last ? "in " + fmt(last.packetsInPerSec) : "";
  $("packets-out-now").textContent = last ? "out " + fmt(last.packetsOutPerSec) : "";
}

function ms(n) { return n >= 1000 ? n / 1000 + "k" : String(n); }

function drawRttChart() {
  var svg = $("chart-rtt"), size = canvas(svg), r = hist.rtt;
  if (!r) { label(svg, size.w / 2, size.h / 2, "no probes yet", "empty-msg", "middle"); return; }
  var L = 8, R = 8, T = 16, B = 34, W = size.w - L - R, H = size.h - T - B;
  var n = r.counts.length, slot = W / n, bw = Math.max(4, slot * 0.72);
  var top = Math.max(1, Math.max.apply(null, r.counts));
  sv("line", { class: "axis", x1: L, x2: L + W, y1: T + H, y2: T + H }, svg);
  r.counts.forEach(function (c, i) {
    var bh = c ? Math.max(2, (c / top) * H) : 1;
    var x = L + i * slot + (slot - bw) / 2;
    var range = i < r.buckets.length ? "≤ " + r.buckets[i] + " ms" : "> " + r.buckets[r.buckets.length - 1] + " ms";
    var bar = sv("rect", { class: c ? "bar" : "bar empty", x: x.toFixed(1), y: (T + H - bh).toFixed(1),
      width: bw.toFixed(1), height: bh.toFixed(1), rx: 2 }, svg);
    bar.dataset.count = String(c);
    tip(bar, range + ": " + c + " probes");
    if (c) label(svg, x + bw / 2, T + H - bh - 4, String(c), "", "middle");
    var name = i < r.buckets.length ? ms(r.buckets[i]) : ">" + ms(r.buckets[r.buckets.length - 1]);
    label(svg, x + bw / 2, T + H + 14, name, "", "middle");
  });
  label(svg, L + W / 2, T + H + 29, "round trip, ms (bucket upper bound)", "", "middle");
  $("rtt-note").textContent = r.count + " probes";
  $("rtt-now").textContent = r.count ? "mean " + fmt(r.meanMs) + " ms · last " + fmt(r.lastMs) + " ms" : "";
}

function drawTimeline() {
  var svg = $("timeline"), d = span();
  var byMember = new Map();
  hist.timeline.forEach(function (e) {
    var list = byMember.get(e.member);
    if (!list) byMember.set(e.member, list = []);
    list.push(e);
  });
  var changed = [];
  byMember.forEach(function (list, name) {
    if (list[list.length - 1].t >= d.start) changed.push({ name: name, list: list, last: list[list.length - 1].t });
  });
  changed.sort(function (a, b) { return b.last - a.last; });
  var more = Math.max(0, changed.length - MAX_LANES);
  var lanes = changed.slice(0, MAX_LANES).sort(function (a, b) { return collator.compare(a.name, b.name); });
  var laneH = 18, gap = 6, T = 4, B = 22, nameW = 120, R = 12;
  svg.setAttribute("height", String(Math.max(70, T + lanes.length * (laneH + gap) + B)));
  var size = canvas(svg), W = size.w - nameW - R, axisY = size.h - B;
  var x = function (t) { return nameW + ((Math.max(d.start, t) - d.start) / Math.max(1, d.end - d.start)) * W; };
  var g = sv("g", {}, svg);
  timeTicks(g, d, x, T, axisY);
  sv("line", { class: "axis", x1: nameW, x2: nameW + W, y1: axisY, y2: axisY }, g);
  lanes.forEach(function (lane, i) {
    var y = T + i * (laneH + gap);
    var lg = sv("g", { class: "lane" }, svg);
    lg.dataset.member = lane.name;
    var name = label(lg, nameW - 10, y + laneH / 2 + 4, lane.name, "lane-name", "end");
    if (lane.name === self) name.setAttribute("font-weight", "600");
    sv("rect", { class: "lane-bg", x: nameW, y: y, width: W, height: laneH, rx: 3 }, lg);
    // The state at the span's start: the last change before it, else the first change's origin.
    var state = null, k = 0;
    for (; k < lane.list.length && lane.list[k].t < d.start; k++) state = lane.list[k].to;
    if (state === null && k < lane.list.length) state = lane.list[k].from;
    var from = d.start;
    var segment = function (st, t0, t1) {
      if (!st || t1 <= t0) return;
      var seg = sv("rect", { class: "seg", x: x(t0).toFixed(1), y: y + 2, height: laneH - 4,
        width: Math.max(1.5, x(t1) - x(t0)).toFixed(1) }, lg);
      seg.dataset.state = st;
      tip(seg, lane.name + ": " + st + " from " + clock(t0) + " to " + (t1 >= d.end - 1 ? "now" : clock(t1)));
    };
    for (; k < lane.list.length; k++) {
      var e = lane.list[k];
      segment(state, from, e.t);
      state = e.to;
      from = e.t;
    }
    segment(state, from, d.end);
    lane.list.forEach(function (e) {
      if (e.t < d.start) return;
      var m = sv("circle", { class: "mark", cx: x(e.t).toFixed(1), cy: y + laneH / 2, r: 3 }, lg);
      m.dataset.type = e.type;
      tip(m, clock(e.t) + " " + lane.name + ": " + e.type + " (" + (e.from || "new") + " → " + e.to + ", incarnation " + e.incarnation + ")");
    });
  });
  if (!lanes.length) {
    label(svg, nameW + W / 2, T + 30, "no state changes yet: every member steady", "empty-msg", "middle");
  }
  var steady = Math.max(0, rows.size - changed.length);
  $("timeline-note").textContent = changed.length
    ? changed.length + " changed" + (more ? " (" + more + " more not shown)" : "") + " · " + steady + " steady"
    : "";
  var secs = Math.round((d.end - d.start) / 1000);
  $("timeline-span").textContent = "last " + (secs >= 90 ? Math.round(secs / 60) + " min" : secs + " s");
  svg.dataset.lanes = String(lanes.length);
}

function drawCharts() {
  chartsDirty = false;
  pruneHistory();
  drawTimeline();
  drawHealthChart();
  drawPacketsChart();
  drawRttChart();
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
    if (snap.history) {
      hist.windowMs = snap.history.windowMs;
      hist.intervalMs = snap.history.intervalMs;
      hist.samples = snap.history.samples.slice();
      hist.timeline = snap.history.timeline.slice();
      hist.rtt = snap.history.rtt;
      var newest = hist.samples[hist.samples.length - 1];
      if (newest) clockOffset = newest.t - Date.now();
    }
    chartsDirty = true;
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
    var before = rows.get(ev.member.name);
    hist.timeline.push({
      t: Date.parse(ev.time), member: ev.member.name, type: ev.type,
      from: before ? before.data.state : null, to: ev.member.state,
      incarnation: ev.member.incarnation
    });
    chartsDirty = true;
    upsert(ev.member, true);
  });
  es.addEventListener("stats", function (e) {
    var st = JSON.parse(e.data);
    clockOffset = st.sample.t - Date.now();
    hist.samples.push(st.sample);
    hist.rtt = st.rtt;
    chartsDirty = true;
    schedule();
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
  chartsDirty = true;   // time moves: the charts slide left
  schedule();
}, 1000);
addEventListener("resize", function () { chartsDirty = true; schedule(); });
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
  <section class="charts">
    <div class="card wide">
      <h2>State changes <span class="note" id="timeline-note"></span>
        <span class="legend"><span><i class="s-alive"></i>alive</span><span><i class="s-suspect"></i>suspect</span><span><i class="s-unreachable"></i>unreachable</span><span><i class="s-dead"></i>dead</span><span><i class="s-left"></i>left</span></span>
        <span class="value" id="timeline-span"></span></h2>
      <svg id="timeline" height="70" role="img" aria-label="timeline of member state changes"></svg>
    </div>
    <div class="card">
      <h2>Health score <span class="note">Lifeguard, 0 is healthy</span><span class="value" id="health-now"></span></h2>
      <svg id="chart-health" height="150" role="img" aria-label="health score over time"></svg>
    </div>
    <div class="card">
      <h2>Packets/s <span class="legend"><span><i class="c-in"></i>in</span><span><i class="c-out"></i>out</span></span>
        <span class="value in" id="packets-in-now"></span><span class="value out" id="packets-out-now"></span></h2>
      <svg id="chart-packets" height="150" role="img" aria-label="packets per second in and out"></svg>
    </div>
    <div class="card">
      <h2>Probe RTT <span class="note" id="rtt-note"></span><span class="value" id="rtt-now"></span></h2>
      <svg id="chart-rtt" height="150" role="img" aria-label="probe round-trip time histogram"></svg>
    </div>
  </section>
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
