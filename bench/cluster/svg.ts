/**
 * A small dependency-free SVG line chart for the benchmark reports: one line per series over
 * a categorical or logarithmic x axis, linear or logarithmic y axis.
 *
 * @module
 */

/** One line of a chart. */
export interface Series {
  /** Legend label. */
  readonly name: string;
  /** CSS colour. */
  readonly color: string;
  /** Points; a null y is a gap (not measured, or did not happen). Hollow points are flagged. */
  readonly points: readonly {
    readonly x: number;
    readonly y: number | null;
    readonly hollow?: boolean;
  }[];
}

/** What to draw. */
export interface Chart {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic y axis (values must be > 0). */
  readonly logY?: boolean;
  /** Logarithmic x axis (default: the distinct x values evenly spaced). */
  readonly logX?: boolean;
  /** A note under the title. */
  readonly note?: string;
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceTicks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(v);
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

function fmt(v: number): string {
  if (v === 0) return "0";
  if (Math.abs(v) >= 1000) return v.toLocaleString("en-US", { maximumFractionDigits: 0 });
  if (Math.abs(v) >= 10) return v.toFixed(0);
  if (Math.abs(v) >= 1) return Number(v.toFixed(1)).toString();
  return Number(v.toPrecision(2)).toString();
}

/** Render `chart` as a standalone SVG document. */
export function lineChart(chart: Chart): string {
  const W = 640, H = 360, L = 70, R = 170, T = chart.note ? 48 : 34, B = 50;
  const xs = [...new Set(chart.series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) =>
    a - b
  );
  const ys = chart.series.flatMap((s) => s.points.map((p) => p.y)).filter((y): y is number =>
    y !== null && Number.isFinite(y)
  );
  const plotW = W - L - R, plotH = H - T - B;
  const x = chart.logX
    ? (v: number) => {
      const lo = Math.log10(xs[0]), hi = Math.log10(xs[xs.length - 1]);
      return L + (hi === lo ? 0.5 : (Math.log10(v) - lo) / (hi - lo)) * plotW;
    }
    : (v: number) => L + (xs.length === 1 ? 0.5 : xs.indexOf(v) / (xs.length - 1)) * plotW;
  let y: (v: number) => number;
  let ticks: number[];
  if (chart.logY) {
    const lo = Math.floor(Math.log10(Math.min(...ys, 1)));
    const hi = Math.ceil(Math.log10(Math.max(...ys, 10)));
    ticks = Array.from({ length: hi - lo + 1 }, (_, k) => 10 ** (lo + k));
    y = (v) => T + (1 - (Math.log10(v) - lo) / (hi - lo || 1)) * plotH;
  } else {
    ticks = niceTicks(Math.max(...ys, 0));
    const top = ticks[ticks.length - 1] || 1;
    y = (v) => T + (1 - v / top) * plotH;
  }
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${L + plotW / 2}" y="20" text-anchor="middle" font-size="14">${
      esc(chart.title)
    }</text>`,
  );
  if (chart.note) {
    parts.push(
      `<text x="${L + plotW / 2}" y="37" text-anchor="middle" font-size="11" fill="#555">${
        esc(chart.note)
      }</text>`,
    );
  }
  for (const t of ticks) {
    parts.push(
      `<line x1="${L}" x2="${L + plotW}" y1="${y(t).toFixed(1)}" y2="${
        y(t).toFixed(1)
      }" stroke="#e3e3e3"/>`,
      `<text x="${L - 8}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${
        fmt(t)
      }</text>`,
    );
  }
  for (const v of xs) {
    parts.push(
      `<text x="${x(v).toFixed(1)}" y="${T + plotH + 18}" text-anchor="middle" font-size="11">${
        fmt(v)
      }</text>`,
    );
  }
  parts.push(
    `<line x1="${L}" x2="${L}" y1="${T}" y2="${T + plotH}" stroke="#999"/>`,
    `<line x1="${L}" x2="${L + plotW}" y1="${T + plotH}" y2="${T + plotH}" stroke="#999"/>`,
    `<text x="${L + plotW / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${
      esc(chart.xLabel)
    }</text>`,
    `<text x="16" y="${T + plotH / 2}" transform="rotate(-90 16 ${
      T + plotH / 2
    })" text-anchor="middle" font-size="12">${esc(chart.yLabel)}</text>`,
  );
  chart.series.forEach((s, i) => {
    // Split into runs of measured points so a gap stays a gap.
    let run: string[] = [];
    const flush = () => {
      if (run.length > 1) {
        parts.push(
          `<polyline fill="none" stroke="${s.color}" stroke-width="2.5" points="${
            run.join(" ")
          }"/>`,
        );
      }
      run = [];
    };
    for (const p of s.points) {
      if (p.y === null || !Number.isFinite(p.y) || (chart.logY && p.y <= 0)) {
        flush();
        continue;
      }
      const px = x(p.x).toFixed(1), py = y(p.y).toFixed(1);
      run.push(`${px},${py}`);
      parts.push(
        p.hollow
          ? `<circle cx="${px}" cy="${py}" r="5" fill="white" stroke="${s.color}" stroke-width="2.5"/>`
          : `<circle cx="${px}" cy="${py}" r="4" fill="${s.color}"/>`,
      );
    }
    flush();
    const ly = T + 8 + i * 20;
    parts.push(
      `<rect x="${L + plotW + 16}" y="${ly - 10}" width="12" height="12" fill="${s.color}"/>`,
      `<text x="${L + plotW + 34}" y="${ly}" font-size="12">${esc(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n") + "\n";
}
