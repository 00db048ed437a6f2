// When a cache's anomaly baseline is stored again in its <name>-baseline
// ConfigMap (children/baseline.ts), where it survives an operator restart.
// It is rewritten only when what it says changes in kind (learning ends, a
// signal is flagged or cleared) or it is STORE_EVERY_MS old, so a steady
// cache writes it a few times an hour at most, never every poll.
import { parseBaseline, serializeBaseline, SIGNAL_NAMES, type BaselineState } from './baseline.js';

/** The most learning an operator restart may lose. */
export const STORE_EVERY_MS = 10 * 60_000;

/** What a baseline says, in kind: still learning or not, and which signals are flagged. */
function kindOf(state: BaselineState, learningPeriodMs: number): string {
  const learning = state.learnedMs < learningPeriodMs;
  const flagged = SIGNAL_NAMES.filter((n) => state.signals[n].flagged !== undefined);
  return `${learning ? 'learning' : 'learned'}:${flagged.join(',')}`;
}

/**
 * Pure: the text to store for the current baseline, given the stored one.
 * The stored text itself when it is recent and says the same in kind
 * (nothing to write); the current baseline's otherwise.
 */
export function baselineToStore(stored: string | undefined, current: BaselineState | undefined, learningPeriodMs: number): string | undefined {
  if (!current) return stored;
  const before = parseBaseline(stored);
  const fresh = before !== undefined && current.at - before.at < STORE_EVERY_MS && before.at <= current.at;
  if (fresh && kindOf(before, learningPeriodMs) === kindOf(current, learningPeriodMs)) return stored;
  return serializeBaseline(current);
}
