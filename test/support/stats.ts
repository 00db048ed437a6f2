// The statistics the test suites and the benchmark share. Pure.

/** The middle value (the mean of the two middle ones for an even count) of the finite values; NaN when there are none. */
export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile (p in 0..100) of the values; undefined when there are none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Stats {
  n: number;
  min: number;
  median: number;
  max: number;
}

/** Count, min, median and max of the finite values (NaN when there are none). */
export function stats(values: readonly number[]): Stats {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { n: 0, min: NaN, median: NaN, max: NaN };
  return { n: finite.length, min: Math.min(...finite), median: median(finite), max: Math.max(...finite) };
}

export interface Spread {
  minMs: number | null;
  medianMs: number | null;
  maxMs: number | null;
}

/** min, median and max, rounded to whole milliseconds; nulls when there is no sample. */
export function spread(values: readonly number[]): Spread {
  const s = stats(values);
  if (s.n === 0) return { minMs: null, medianMs: null, maxMs: null };
  return { minMs: Math.round(s.min), medianMs: Math.round(s.median), maxMs: Math.round(s.max) };
}

export function round(value: number | undefined | null, digits = 0): number | null {
  if (value === undefined || value === null || !Number.isFinite(value)) return null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b <= 0) return null;
  return round(a / b, 2);
}
