// When the anomaly baseline is stored again: only when it says something new
// in kind, or it is old; never every poll.
import { expect } from 'chai';
import { freshBaseline, parseBaseline, serializeBaseline, type BaselineState } from '../../../../src/memcached/autopilot/baseline.js';
import { baselineToStore, STORE_EVERY_MS } from '../../../../src/memcached/autopilot/baselinestore.js';

const T0 = Date.UTC(2026, 0, 5, 12);
const LEARNING = 60 * 60_000;

function state(at: number, learnedMs: number, flagged = false): BaselineState {
  const s = freshBaseline(at);
  s.learnedMs = learnedMs;
  if (flagged) s.signals.hitRatio = { ...s.signals.hitRatio, flagged: { since: at, direction: 'Low' } };
  return s;
}

describe('autopilot/baselinestore: baselineToStore', () => {
  const stored = serializeBaseline(state(T0, 2 * LEARNING));
  const cases: [string, string | undefined, BaselineState | undefined, 'stored' | 'current' | 'none'][] = [
    ['nothing learned, nothing stored', undefined, undefined, 'none'],
    ['nothing learned yet since a restart: the stored one stays', stored, undefined, 'stored'],
    ['nothing stored: store', undefined, state(T0, 0), 'current'],
    ['a minute on, the same in kind: no write', stored, state(T0 + 60_000, 2 * LEARNING + 60_000), 'stored'],
    ['STORE_EVERY_MS on: store', stored, state(T0 + STORE_EVERY_MS, 2 * LEARNING + STORE_EVERY_MS), 'current'],
    ['a signal flagged: store at once', stored, state(T0 + 60_000, 2 * LEARNING + 60_000, true), 'current'],
    ['learning ended: store at once', serializeBaseline(state(T0, LEARNING - 30_000)), state(T0 + 60_000, LEARNING + 30_000), 'current'],
    ['a stored one that does not parse: store', '{"v":0}', state(T0, 0), 'current'],
  ];
  for (const [name, before, current, expected] of cases) {
    it(name, () => {
      const text = baselineToStore(before, current, LEARNING);
      if (expected === 'none') expect(text).to.equal(undefined);
      else if (expected === 'stored') expect(text).to.equal(before);
      else expect(parseBaseline(text)?.at).to.equal(Math.round(current!.at / 1000) * 1000);
    });
  }
});
