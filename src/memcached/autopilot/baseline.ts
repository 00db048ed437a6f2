// Abnormality detection: a cache's own baseline of hit ratio, evictions,
// request rate and connections, learned from its polls, and the departures
// from it (the Anomalous condition). Pure, and small enough to store: the
// state serialises to a few hundred bytes, and a stored state that does not
// parse starts the learning over instead of failing.
//
// What is learned, per signal (rates as log(1 + x), so a swing reads as a
// ratio; the hit ratio as it is):
//  - a level and spread over about the last day (an EWMA mean and variance,
//    averaged plainly until a day's worth is in): the fallback;
//  - the level at each hour of the day (24 buckets, each learned over about
//    its last three days), and the spread around those levels: a known daily
//    swing is then usual, not a departure. An hour counts once half an hour
//    of it was seen.
// A poll departs when the signal is further from the expected level, in its
// bad direction (hit ratio: down; evictions: up; request rate and
// connections: either), than `factor` times the spread (with a floor per
// signal, so a flat signal does not flag noise). A signal is flagged after
// three departing polls in a row, or at once when STRONG_DEPARTURE times as
// far; it clears after two usual polls in a row. Departing polls are not learned, so a departure
// stays one until the cache returns; one that lasts a whole learning period
// becomes the new usual level (the baseline starts over).
import type { ConditionUpdate } from '@memcached-operator/runtime';
import type { CacheSignals } from './signals.js';
import type { AnomalySettings } from './settings.js';

export const CONDITION_ANOMALOUS = 'Anomalous';

export type SignalName = 'hitRatio' | 'evictionsPerSecond' | 'requestsPerSecond' | 'connections';
type Direction = 'Low' | 'High' | 'Both';

interface SignalKind {
  /** The scale the signal is learned and judged on. */
  transform: (x: number) => number;
  untransform: (v: number) => number;
  /** Which way is a departure. */
  direction: Direction;
  /** The least spread assumed (in the transformed scale). */
  floor: number;
  /** The words for a departure. */
  words: string;
  reason: string;
}

const LOG = { transform: Math.log1p, untransform: Math.expm1 };
const PLAIN = { transform: (x: number) => x, untransform: (v: number) => v };

/** The signals, in the order a condition names them. Floors: 3 points of hit ratio; rates by a ratio (e^0.1, e^0.2). */
export const SIGNALS: Readonly<Record<SignalName, SignalKind>> = {
  hitRatio: { ...PLAIN, direction: 'Low', floor: 0.03, words: 'hit ratio', reason: 'HitRatioLow' },
  evictionsPerSecond: { ...LOG, direction: 'High', floor: 0.1, words: 'evictions', reason: 'EvictionsUnusual' },
  requestsPerSecond: { ...LOG, direction: 'Both', floor: 0.2, words: 'request rate', reason: 'RequestRateUnusual' },
  connections: { ...LOG, direction: 'Both', floor: 0.2, words: 'connections', reason: 'ConnectionsUnusual' },
};
export const SIGNAL_NAMES = Object.keys(SIGNALS) as SignalName[];

const HOUR_MS = 3_600_000;
/** The fallback level and spread cover about a day. */
const GLOBAL_SPAN_MS = 24 * HOUR_MS;
/** An hour's level covers about three days (three hours of that hour). */
const HOUR_SPAN_MS = 3 * HOUR_MS;
/** The spread around the hours' levels covers about three days. */
const HOURLY_SPREAD_SPAN_MS = 72 * HOUR_MS;
/** An hour counts once this much of it was seen; the hourly spread once it has this much behind it. */
const HOUR_KNOWN_MS = 30 * 60_000;
/** A gap in the polls (operator down) counts as at most this much time learned. */
const MAX_STEP_MS = 10 * 60_000;
/**
 * Polls in a row that flag a departure, or clear one, and how many times the
 * factor flags at the first poll. Chosen by simulation (docs/autopilot.md):
 * with noise that has heavy tails (one poll in twenty three times as noisy),
 * two polls in a row and twice the factor gave 52 false episodes in 40 days,
 * three and three times gave none; a halved hit ratio (from above 72%) is
 * still flagged at the first poll that sees it whole.
 */
const POLLS_TO_FLAG = 3;
const POLLS_TO_CLEAR = 2;
export const STRONG_DEPARTURE = 3;

export interface SignalBaseline {
  /** Level, spread (variance) and how much time they hold (ms, up to GLOBAL_SPAN_MS). */
  mean: number;
  variance: number;
  weightMs: number;
  /** Level at each UTC hour of the day; null until seen. */
  hourMeans: (number | null)[];
  /** Bit h: hour h was seen for at least HOUR_KNOWN_MS. */
  knownHours: number;
  /** Time seen in the current hour (ms), until it counts. */
  hourSeenMs: number;
  /** Spread around the hours' levels, and how much time it holds. */
  hourlyVariance: number;
  hourlyWeightMs: number;
  /** While flagged: since when (ms), and which way it departed. */
  flagged?: { since: number; direction: 'Low' | 'High' };
  /** Departing polls in a row (not flagged), or usual polls in a row (flagged). */
  streak: number;
}

export interface BaselineState {
  /** The last poll learned (ms). */
  at: number;
  /** Time watched (ms), toward the learning period. */
  learnedMs: number;
  signals: Record<SignalName, SignalBaseline>;
}

export interface Departure {
  signal: SignalName;
  direction: 'Low' | 'High';
  /** This poll's value and the usual one (absent when this poll had no value for the signal). */
  observed?: number;
  expected?: number;
}

export interface Verdict {
  state: 'Learning' | 'Usual' | 'Anomalous';
  /** The flagged signals, in SIGNALS order (empty unless Anomalous). */
  flagged: Departure[];
  /** The baseline was learned again: a departure had lasted the whole learning period. */
  relearned?: boolean;
}

function freshSignal(): SignalBaseline {
  return {
    mean: 0, variance: 0, weightMs: 0, hourMeans: Array<number | null>(24).fill(null), knownHours: 0,
    hourSeenMs: 0, hourlyVariance: 0, hourlyWeightMs: 0, streak: 0,
  };
}

/** A baseline that knows nothing yet. */
export function freshBaseline(at: number): BaselineState {
  return { at, learnedMs: 0, signals: Object.fromEntries(SIGNAL_NAMES.map((n) => [n, freshSignal()])) as Record<SignalName, SignalBaseline> };
}

const hourOf = (at: number): number => new Date(at).getUTCHours();

/**
 * The level and spread expected at this hour: the hour's, once known, else
 * the fallback's; undefined until the signal itself was seen for the
 * learning period (a signal that had no value while the cache was learned,
 * such as a hit ratio without gets, learns first).
 */
function expectation(b: SignalBaseline, hour: number, learningPeriodMs: number): { mean: number; spread: number } | undefined {
  if (b.weightMs < Math.min(learningPeriodMs, GLOBAL_SPAN_MS)) return undefined;
  const hourMean = b.hourMeans[hour];
  if ((b.knownHours >> hour) & 1 && hourMean !== null && b.hourlyWeightMs >= HOUR_KNOWN_MS) {
    return { mean: hourMean, spread: Math.sqrt(b.hourlyVariance) };
  }
  return { mean: b.mean, spread: Math.sqrt(b.variance) };
}

/** How far v is from the expectation, in spreads, in the signal's bad direction (0 when it moved the good way). */
function departure(kind: SignalKind, v: number, e: { mean: number; spread: number }): { z: number; direction: 'Low' | 'High' } {
  const direction = v < e.mean ? 'Low' : 'High';
  const bad = kind.direction === 'Both' || kind.direction === direction;
  return { z: bad ? Math.abs(v - e.mean) / Math.max(e.spread, kind.floor) : 0, direction };
}

/** The weight of a new poll worth dt: plain averaging until `span` of time is in, then an EWMA over about `span`. */
const weightOf = (weightMs: number, dt: number, span: number): number => dt / (Math.min(weightMs, span) + dt);

/** An EWMA mean and variance step (the variance about the moving mean). */
function ewma(mean: number, variance: number, weightMs: number, v: number, dt: number, span: number) {
  const alpha = weightOf(weightMs, dt, span);
  const delta = v - mean;
  return { mean: mean + alpha * delta, variance: (1 - alpha) * (variance + alpha * delta * delta), weightMs: Math.min(weightMs + dt, span) };
}

/** Learns one usual poll of a signal into its baseline (hour bookkeeping done by the caller). */
function learn(b: SignalBaseline, v: number, hour: number, dt: number): SignalBaseline {
  if (dt <= 0) return b;
  const global = ewma(b.mean, b.variance, b.weightMs, v, dt, GLOBAL_SPAN_MS);
  const known = ((b.knownHours >> hour) & 1) === 1;
  const before = b.hourMeans[hour];
  const hourMeans = [...b.hourMeans];
  // A known hour moves slowly; an hour being learned averages what it has seen this time round.
  const alpha = before === null ? 1 : known ? dt / (HOUR_SPAN_MS + dt) : dt / (b.hourSeenMs + dt);
  hourMeans[hour] = before === null ? v : before + alpha * (v - before);
  let { hourlyVariance, hourlyWeightMs } = b;
  if (known && before !== null) {
    // The spread around the hour's level: the mean square of the residuals.
    hourlyVariance += weightOf(hourlyWeightMs, dt, HOURLY_SPREAD_SPAN_MS) * ((v - before) ** 2 - hourlyVariance);
    hourlyWeightMs = Math.min(hourlyWeightMs + dt, HOURLY_SPREAD_SPAN_MS);
  }
  return { ...b, ...global, hourMeans, hourlyVariance, hourlyWeightMs };
}

/** Moves the hour bookkeeping: time seen in this hour, and the hour known once half an hour of it was seen. */
function seeHour(b: SignalBaseline, previousAt: number, at: number, dt: number): SignalBaseline {
  const hour = hourOf(at);
  const sameHour = Math.floor(previousAt / HOUR_MS) === Math.floor(at / HOUR_MS);
  const hourSeenMs = (sameHour ? b.hourSeenMs : 0) + dt;
  const knownHours = hourSeenMs >= HOUR_KNOWN_MS ? b.knownHours | (1 << hour) : b.knownHours;
  return { ...b, hourSeenMs, knownHours };
}

/** The flag after one poll: departing polls in a row flag it, usual ones in a row clear it. */
function nextFlag(
  b: SignalBaseline,
  d: { z: number; direction: 'Low' | 'High' } | undefined,
  factor: number,
  at: number,
): Pick<SignalBaseline, 'flagged' | 'streak'> {
  const departs = d !== undefined && d.z > factor;
  if (!b.flagged) {
    const streak = departs ? b.streak + 1 : 0;
    const flag = departs && (d.z > STRONG_DEPARTURE * factor || streak >= POLLS_TO_FLAG);
    return flag ? { flagged: { since: at, direction: d.direction }, streak: 0 } : { streak };
  }
  const streak = departs ? 0 : b.streak + 1;
  return streak >= POLLS_TO_CLEAR ? { streak: 0 } : { flagged: b.flagged, streak };
}

/** The signal's value in this poll, if it has one. */
function valueOf(signals: CacheSignals, name: SignalName): number | undefined {
  const x = signals[name];
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined;
}

/** One signal, one poll: judged against its baseline (once learning is over), then learned if usual. */
function observeSignal(
  b: SignalBaseline,
  name: SignalName,
  signals: CacheSignals,
  previousAt: number,
  dt: number,
  judging: boolean,
  settings: AnomalySettings,
): { baseline: SignalBaseline; observed?: { value: number; expected: number } } {
  const x = valueOf(signals, name);
  if (x === undefined) return { baseline: b };
  const kind = SIGNALS[name];
  const v = kind.transform(x);
  const hour = hourOf(signals.at);
  const e = judging ? expectation(b, hour, settings.learningPeriodMs) : undefined;
  const d = e ? departure(kind, v, e) : undefined;
  const { flagged, streak } = nextFlag(b, d, settings.factor, signals.at);
  const seen = seeHour(b, previousAt, signals.at, dt);
  const next: SignalBaseline = { ...seen, streak, ...(flagged ? { flagged } : {}) };
  if (!flagged) delete next.flagged;
  const departs = d !== undefined && d.z > settings.factor;
  return { baseline: departs ? next : learn(next, v, hour, dt), ...(e ? { observed: { value: x, expected: kind.untransform(e.mean) } } : {}) };
}

/**
 * Pure: one poll's signals learned into the baseline (undefined: a fresh
 * one), and the verdict. Polls that are not newer than the last one learned
 * change nothing.
 */
export function observe(state: BaselineState | undefined, signals: CacheSignals, settings: AnomalySettings): { state: BaselineState; verdict: Verdict } {
  // A stored state from the future (a clock that jumped, an edited store) would stall learning: start over.
  const usable = state && state.at - signals.at <= MAX_STEP_MS ? state : undefined;
  const before = usable ?? freshBaseline(signals.at - Math.max(0, signals.intervalMs));
  if (usable && signals.at <= usable.at) return { state: usable, verdict: verdictOf(usable, settings, new Map()) };
  const dt = Math.min(MAX_STEP_MS, signals.at - before.at);
  const judging = before.learnedMs >= settings.learningPeriodMs;
  const observed = new Map<SignalName, { value: number; expected: number }>();
  const next: BaselineState = { at: signals.at, learnedMs: before.learnedMs + dt, signals: { ...before.signals } };
  for (const name of SIGNAL_NAMES) {
    const result = observeSignal(before.signals[name], name, signals, before.at, dt, judging, settings);
    next.signals[name] = result.baseline;
    if (result.observed) observed.set(name, result.observed);
  }
  const lasting = SIGNAL_NAMES.some((n) => {
    const flag = next.signals[n].flagged;
    return flag !== undefined && signals.at - flag.since >= settings.learningPeriodMs;
  });
  if (lasting) return { state: freshBaseline(signals.at), verdict: { state: 'Learning', flagged: [], relearned: true } };
  return { state: next, verdict: verdictOf(next, settings, observed) };
}

function verdictOf(
  state: BaselineState,
  settings: AnomalySettings,
  observed: ReadonlyMap<SignalName, { value: number; expected: number }>,
): Verdict {
  if (state.learnedMs < settings.learningPeriodMs) return { state: 'Learning', flagged: [] };
  const flagged = SIGNAL_NAMES.flatMap((signal): Departure[] => {
    const flag = state.signals[signal].flagged;
    if (!flag) return [];
    const o = observed.get(signal);
    return [{ signal, direction: flag.direction, ...(o ? { observed: o.value, expected: o.expected } : {}) }];
  });
  return flagged.length > 0 ? { state: 'Anomalous', flagged } : { state: 'Usual', flagged: [] };
}

/**
 * Pure: the Anomalous condition for a verdict. The message names the signals
 * and their direction, not numbers that move each poll, so a lasting state
 * reads the same and writes nothing.
 */
export function anomalyCondition(verdict: Verdict): ConditionUpdate {
  if (verdict.state === 'Learning') {
    return {
      type: CONDITION_ANOMALOUS, status: 'False', reason: 'Learning',
      message: verdict.relearned
        ? 'a departure lasted the whole learning period, so it is the usual level now: learning this cache again'
        : "learning this cache's usual levels (autoscaling.anomalyDetection.learningPeriod): nothing is flagged yet",
    };
  }
  if (verdict.flagged.length === 0) {
    return { type: CONDITION_ANOMALOUS, status: 'False', reason: 'Usual', message: 'hit ratio, evictions, request rate and connections are at their usual levels for this hour of day' };
  }
  const parts = verdict.flagged.map((d) => `${SIGNALS[d.signal].words} far ${d.direction === 'Low' ? 'below' : 'above'} its usual level for this hour of day`);
  return { type: CONDITION_ANOMALOUS, status: 'True', reason: SIGNALS[verdict.flagged[0].signal].reason, message: `${parts.join('; ')}` };
}

// --------------------------------------------------------------- storing --
//
// The stored form (version 1), JSON, times in whole seconds:
//   {"v":1,"at":<s>,"l":<learned s>,"s":{"<signal>":[mean, variance, weight s,
//     hour levels, known hours, hour seen s, hourly variance, hourly weight s,
//     streak, (flagged since s, 0 Low | 1 High)]}}
// The 24 hour levels are 12-bit steps of the signal's scale, packed into 48
// base64 characters (4095: not seen yet). About 500 bytes in all.

const FORMAT_VERSION = 1;
const STORED_KEYS: Readonly<Record<SignalName, string>> = { hitRatio: 'h', evictionsPerSecond: 'e', requestsPerSecond: 'r', connections: 'c' };
/** Steps per unit of the transformed scale: the hit ratio to 1/4000, log rates to 1/160 (x up to 1e11). */
const STEPS: Readonly<Record<SignalName, number>> = { hitRatio: 4000, evictionsPerSecond: 160, requestsPerSecond: 160, connections: 160 };
const UNSEEN = 4095;
/** A stored state longer than this is not one of ours. */
const MAX_STORED_LENGTH = 4096;

const sig4 = (n: number): number => Number(n.toPrecision(4));
const seconds = (ms: number): number => Math.round(ms / 1000);

function packHours(means: readonly (number | null)[], steps: number): string {
  const bytes = Buffer.alloc(36);
  means.forEach((m, i) => {
    const q = m === null ? UNSEEN : Math.min(UNSEEN - 1, Math.max(0, Math.round(m * steps)));
    const bit = i * 12;
    const byte = bit >> 3;
    if (i % 2 === 0) {
      bytes[byte] = q >> 4;
      bytes[byte + 1] = (bytes[byte + 1] & 0x0f) | ((q & 0x0f) << 4);
    } else {
      bytes[byte] = (bytes[byte] & 0xf0) | (q >> 8);
      bytes[byte + 1] = q & 0xff;
    }
  });
  return bytes.toString('base64');
}

function unpackHours(text: unknown, steps: number): (number | null)[] | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]{48}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return Array.from({ length: 24 }, (_, i) => {
    const byte = (i * 12) >> 3;
    const q = i % 2 === 0 ? (bytes[byte] << 4) | (bytes[byte + 1] >> 4) : ((bytes[byte] & 0x0f) << 8) | bytes[byte + 1];
    return q === UNSEEN ? null : q / steps;
  });
}

/** Pure: the baseline in its stored form (a few hundred bytes of JSON). */
export function serializeBaseline(state: BaselineState): string {
  const signals = Object.fromEntries(
    SIGNAL_NAMES.map((name) => {
      const b = state.signals[name];
      const fields: unknown[] = [
        sig4(b.mean), sig4(b.variance), seconds(b.weightMs), packHours(b.hourMeans, STEPS[name]), b.knownHours,
        seconds(b.hourSeenMs), sig4(b.hourlyVariance), seconds(b.hourlyWeightMs), b.streak,
      ];
      if (b.flagged) fields.push(seconds(b.flagged.since), b.flagged.direction === 'Low' ? 0 : 1);
      return [STORED_KEYS[name], fields];
    }),
  );
  return JSON.stringify({ v: FORMAT_VERSION, at: seconds(state.at), l: seconds(state.learnedMs), s: signals });
}

const isCount = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const isReal = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function parseSignal(fields: unknown, name: SignalName): SignalBaseline | undefined {
  if (!Array.isArray(fields) || (fields.length !== 9 && fields.length !== 11)) return undefined;
  const [mean, variance, weight, hours, known, seen, hourlyVariance, hourlyWeight, streak, since, direction] = fields as unknown[];
  const hourMeans = unpackHours(hours, STEPS[name]);
  const valid =
    isReal(mean) && isReal(variance) && variance >= 0 && isCount(weight) && hourMeans !== undefined && isCount(known, 0xffffff) &&
    isCount(seen) && isReal(hourlyVariance) && hourlyVariance >= 0 && isCount(hourlyWeight) && isCount(streak, 1000) &&
    (fields.length === 9 || (isCount(since) && (direction === 0 || direction === 1)));
  if (!valid) return undefined;
  return {
    mean, variance, weightMs: weight * 1000, hourMeans, knownHours: known, hourSeenMs: seen * 1000,
    hourlyVariance, hourlyWeightMs: hourlyWeight * 1000, streak,
    ...(fields.length === 11 ? { flagged: { since: (since as number) * 1000, direction: direction === 0 ? ('Low' as const) : ('High' as const) } } : {}),
  };
}

/**
 * Pure: a stored baseline, or undefined for anything that is not a whole
 * one of this version (empty, truncated, edited, another format): the caller
 * then starts a fresh one, and the cache learns again. Never throws.
 */
export function parseBaseline(text: string | undefined): BaselineState | undefined {
  if (typeof text !== 'string' || text.length > MAX_STORED_LENGTH) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { v, at, l, s } = raw as Record<string, unknown>;
  if (v !== FORMAT_VERSION || !isCount(at) || !isCount(l) || typeof s !== 'object' || s === null) return undefined;
  const signals: Partial<Record<SignalName, SignalBaseline>> = {};
  for (const name of SIGNAL_NAMES) {
    const parsed = parseSignal((s as Record<string, unknown>)[STORED_KEYS[name]], name);
    if (!parsed) return undefined;
    signals[name] = parsed;
  }
  return { at: at * 1000, learnedMs: l * 1000, signals: signals as Record<SignalName, SignalBaseline> };
}
