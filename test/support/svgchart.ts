// Time series as a standalone SVG line chart, for the auto pilot spec's
// record of a run (replicas, memory per server, evictions, hit ratio): one or
// more panels stacked over a shared time axis in minutes from the start, a
// legend entry per series, step lines for counts such as replicas, and
// vertical markers for events such as "scaled out". Pure: text in, text out.

/** One reading: at is a time in milliseconds (Date.now()), value a number (a non-finite value is a gap). */
export interface ChartPoint {
  at: number;
  value: number;
}

export interface ChartSeries {
  name: string;
  points: readonly ChartPoint[];
  /** Draw as a step line (the value holds until the next point): for counts such as replicas. */
  step?: boolean;
  /** Any SVG colour; by default the next one of the palette. */
  colour?: string;
}

export interface ChartPanel {
  title: string;
  series: readonly ChartSeries[];
  /** The y range; by default from 0 (or the smallest value, if negative) to the largest value. */
  yMin?: number;
  yMax?: number;
}

/** An event: a dashed vertical line across every panel, labelled at the top. */
export interface ChartMarker {
  at: number;
  label: string;
}

export interface ChartOptions {
  title: string;
  panels: readonly ChartPanel[];
  markers?: readonly ChartMarker[];
  /** The time range in milliseconds; by default that of the points and markers. */
  start?: number;
  end?: number;
  width?: number;
  panelHeight?: number;
}

/** Where a panel's lines are drawn, in SVG user units. */
export interface PlotArea {
  x: number;
  y: number;
  width: number;
  height: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const LEFT = 64;
const RIGHT = 24;
const TITLE_HEIGHT = 34;
const MARKER_ROWS = 3;
const MARKER_ROW_HEIGHT = 13;
const PANEL_HEADER = 22;
const PANEL_GAP = 14;
const X_AXIS_HEIGHT = 38;
const MINUTE_MS = 60_000;
const Y_TICKS = 5;

/** Text safe inside an SVG element or a double-quoted attribute. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A round step (1, 2 or 5 times a power of ten) that cuts min..max into about `count` parts. */
function niceStep(min: number, max: number, count: number): number {
  const rough = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
}

/** About `count` round tick values covering min..max. */
export function ticks(min: number, max: number, count = Y_TICKS): number[] {
  const step = niceStep(min, max, count);
  const out: number[] = [];
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max + step * 1e-9; i++) out.push(roundTo(i * step, step));
  return out;
}

function roundTo(value: number, step: number): number {
  const decimals = Math.max(0, -Math.floor(Math.log10(step)) + 1);
  return Number(value.toFixed(decimals));
}

function format(value: number): string {
  return String(Number(value.toPrecision(6)));
}

/** The chart's time range: the options', else the extent of every point and marker (1 minute when there are none). */
function timeRange(opts: ChartOptions): [number, number] {
  const times = opts.panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt.at)));
  times.push(...(opts.markers ?? []).map((m) => m.at));
  const start = opts.start ?? (times.length ? Math.min(...times) : 0);
  const end = opts.end ?? (times.length ? Math.max(...times) : start + MINUTE_MS);
  if (!(end > start)) return [start, start + MINUTE_MS];
  return [start, end];
}

/** The panel's y range: its options', else 0 (or the least value) to the greatest value, rounded up to a tick. */
function valueRange(panel: ChartPanel): [number, number] {
  const values = panel.series.flatMap((s) => s.points.map((p) => p.value)).filter(Number.isFinite);
  const min = panel.yMin ?? Math.min(0, ...values);
  let max = panel.yMax ?? Math.max(min + 1, ...values);
  if (!(max > min)) throw new Error(`chart panel ${JSON.stringify(panel.title)}: yMax (${max}) must be above yMin (${min})`);
  if (panel.yMax === undefined) {
    const step = niceStep(min, max, Y_TICKS);
    max = Math.ceil(max / step - 1e-9) * step;
  }
  return [min, max];
}

function validate(opts: ChartOptions): void {
  if (opts.panels.length === 0) throw new Error(`chart ${JSON.stringify(opts.title)}: no panels to draw`);
  for (const panel of opts.panels) {
    for (const s of panel.series) {
      const bad = s.points.find((p) => !Number.isFinite(p.at));
      if (bad) throw new Error(`chart series ${JSON.stringify(s.name)}: a point without a finite time (${String(bad.at)})`);
    }
  }
  for (const m of opts.markers ?? []) {
    if (!Number.isFinite(m.at)) throw new Error(`chart marker ${JSON.stringify(m.label)}: no finite time (${String(m.at)})`);
  }
}

/** Each panel's plot area, top to bottom. */
export function plotAreas(opts: ChartOptions): PlotArea[] {
  const width = (opts.width ?? 900) - LEFT - RIGHT;
  const height = opts.panelHeight ?? 150;
  const top = TITLE_HEIGHT + MARKER_ROWS * MARKER_ROW_HEIGHT;
  return opts.panels.map((_, i) => ({ x: LEFT, y: top + i * (PANEL_HEADER + height + PANEL_GAP) + PANEL_HEADER, width, height }));
}

type Scale = (v: number) => number;

function scale(from: [number, number], to: [number, number]): Scale {
  return (v) => {
    const clamped = Math.min(from[1], Math.max(from[0], v));
    return Number((to[0] + ((clamped - from[0]) / (from[1] - from[0])) * (to[1] - to[0])).toFixed(2));
  };
}

/** Runs of consecutive finite points inside the time range: a non-finite value breaks the line. */
function segments(points: readonly ChartPoint[], [start, end]: [number, number]): ChartPoint[][] {
  const runs: ChartPoint[][] = [[]];
  for (const p of [...points].sort((a, b) => a.at - b.at)) {
    if (p.at < start || p.at > end) continue;
    if (Number.isFinite(p.value)) runs[runs.length - 1].push(p);
    else if (runs[runs.length - 1].length) runs.push([]);
  }
  return runs.filter((r) => r.length > 0);
}

function polyline(run: ChartPoint[], step: boolean, x: Scale, y: Scale): string {
  const corners: [number, number][] = [];
  run.forEach((p, i) => {
    if (step && i > 0) corners.push([x(p.at), y(run[i - 1].value)]);
    corners.push([x(p.at), y(p.value)]);
  });
  return corners.map(([cx, cy]) => `${cx},${cy}`).join(' ');
}

function renderSeries(s: ChartSeries, colour: string, range: [number, number], x: Scale, y: Scale): string {
  return segments(s.points, range)
    .map((run) => run.length === 1
      ? `<circle class="series" cx="${x(run[0].at)}" cy="${y(run[0].value)}" r="2" fill="${escapeXml(colour)}"/>`
      : `<polyline class="series" fill="none" stroke="${escapeXml(colour)}" stroke-width="1.6" points="${polyline(run, s.step ?? false, x, y)}"/>`)
    .join('\n');
}

function renderLegend(series: readonly ChartSeries[], colours: string[], area: PlotArea): string {
  const labels = series.map((s) => (s.points.some((p) => Number.isFinite(p.value)) ? s.name : `${s.name} (no data)`));
  const widths = labels.map((l) => 24 + l.length * 6.2);
  let at = area.x + area.width - widths.reduce((a, b) => a + b, 0);
  const y = area.y - 8;
  return labels
    .map((label, i) => {
      const entry = `<g class="legend"><line x1="${at.toFixed(1)}" y1="${y - 4}" x2="${(at + 12).toFixed(1)}" y2="${y - 4}" stroke="${escapeXml(colours[i])}" stroke-width="3"/>` +
        `<text x="${(at + 15).toFixed(1)}" y="${y}">${escapeXml(label)}</text></g>`;
      at += widths[i];
      return entry;
    })
    .join('\n');
}

function renderYAxis(range: [number, number], area: PlotArea, y: Scale): string {
  return ticks(range[0], range[1])
    .map((v) => `<line class="grid" x1="${area.x}" y1="${y(v)}" x2="${area.x + area.width}" y2="${y(v)}" stroke="#ddd"/>` +
      `<text x="${area.x - 6}" y="${y(v) + 4}" text-anchor="end">${format(v)}</text>`)
    .join('\n');
}

function renderPanel(panel: ChartPanel, area: PlotArea, times: [number, number], x: Scale, firstColour: number): string {
  const range = valueRange(panel);
  const y = scale(range, [area.y + area.height, area.y]);
  const colours = panel.series.map((s, i) => s.colour ?? PALETTE[(firstColour + i) % PALETTE.length]);
  const drawn = panel.series.some((s) => segments(s.points, times).length > 0);
  return [
    `<g class="panel">`,
    `<text class="panel-title" x="${area.x}" y="${area.y - 8}" font-weight="bold">${escapeXml(panel.title)}</text>`,
    renderLegend(panel.series, colours, area),
    renderYAxis(range, area, y),
    `<rect class="plot" x="${area.x}" y="${area.y}" width="${area.width}" height="${area.height}" fill="none" stroke="#888"/>`,
    drawn ? panel.series.map((s, i) => renderSeries(s, colours[i], times, x, y)).join('\n')
      : `<text class="no-data" x="${area.x + area.width / 2}" y="${area.y + area.height / 2}" text-anchor="middle" fill="#888">no data</text>`,
    `</g>`,
  ].join('\n');
}

function renderXAxis(times: [number, number], last: PlotArea, x: Scale): string {
  const bottom = last.y + last.height;
  const minutes = ticks(0, (times[1] - times[0]) / MINUTE_MS, 8);
  return [
    ...minutes.map((m) => `<text x="${x(times[0] + m * MINUTE_MS)}" y="${bottom + 15}" text-anchor="middle">${format(m)}</text>`),
    `<text x="${last.x + last.width / 2}" y="${bottom + 32}" text-anchor="middle">minutes from the start</text>`,
  ].join('\n');
}

function renderMarkers(markers: readonly ChartMarker[], areas: PlotArea[], x: Scale): string {
  const bottom = areas[areas.length - 1].y + areas[areas.length - 1].height;
  return [...markers]
    .sort((a, b) => a.at - b.at)
    .map((m, i) => {
      const labelY = TITLE_HEIGHT + (i % MARKER_ROWS) * MARKER_ROW_HEIGHT + 9;
      return `<g class="marker"><line x1="${x(m.at)}" y1="${labelY + 3}" x2="${x(m.at)}" y2="${bottom}" stroke="#555" stroke-dasharray="4 3"/>` +
        `<text x="${x(m.at) + 3}" y="${labelY}" fill="#333">${escapeXml(m.label)}</text></g>`;
    })
    .join('\n');
}

/**
 * The panels as one standalone SVG document, stacked over a shared time axis
 * in minutes from the start. Throws on a chart without panels or a point,
 * marker or y range that cannot be placed; a panel without points says "no
 * data", a series without points says so in the legend.
 */
export function renderSvgChart(opts: ChartOptions): string {
  validate(opts);
  const width = opts.width ?? 900;
  const areas = plotAreas(opts);
  const last = areas[areas.length - 1];
  const height = last.y + last.height + X_AXIS_HEIGHT;
  const times = timeRange(opts);
  const x = scale(times, [last.x, last.x + last.width]);
  let colour = 0;
  const panels = opts.panels.map((p, i) => {
    const svg = renderPanel(p, areas[i], times, x, colour);
    colour += p.series.length;
    return svg;
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(opts.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${escapeXml(opts.title)}</text>`,
    ...panels,
    renderMarkers(opts.markers ?? [], areas, x),
    renderXAxis(times, last, x),
    `</svg>`,
    '',
  ].join('\n');
}
