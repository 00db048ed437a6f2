// Small statistics helpers for the benchmark harness. Pure.

/** Nearest-rank percentile (p in 0..100) of the values; undefined when there are none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Spread {
  minMs: number | null;
  medianMs: number | null;
  maxMs: number | null;
}

/** min, median (nearest-rank p50) and max, rounded to whole milliseconds; nulls when there is no sample. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { minMs: null, medianMs: null, maxMs: null };
  return {
    minMs: Math.round(Math.min(...values)),
    medianMs: Math.round(percentile(values, 50)!),
    maxMs: Math.round(Math.max(...values)),
  };
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
