// Abnormality detection, simulated: days of polls on a fake clock, with
// seeded noise, through observe(); and the stored form.
import { expect } from 'chai';
import { FakeClock } from '@memcached-operator/runtime/testing';
import {
  anomalyCondition,
  freshBaseline,
  observe,
  parseBaseline,
  serializeBaseline,
  type BaselineState,
  type Verdict,
} from '../../../../src/memcached/autopilot/baseline.js';
import type { AnomalySettings } from '../../../../src/memcached/autopilot/settings.js';
import type { CacheSignals } from '../../../../src/memcached/autopilot/signals.js';
import { normal, uniform } from './random.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Midnight UTC, so hours of the day are easy to read. */
const START = Date.UTC(2026, 0, 5);
const DEFAULTS: AnomalySettings = { factor: 4, learningPeriodMs: DAY };

/** What a poll sees, as a function of the time since the start. */
type Load = (t: number) => { hitRatio?: number; evictionsPerSecond: number; requestsPerSecond: number; connections: number };

function signals(at: number, intervalMs: number, load: ReturnType<Load>): CacheSignals {
  return { at, intervalMs, pods: 3, memoryUsedPercent: 50, memoryUsedPercentMax: 55, getsPerSecond: load.requestsPerSecond * 0.8, ...load };
}

interface Run {
  state: BaselineState;
  /** One verdict per poll, with its time since the start. */
  verdicts: { t: number; verdict: Verdict }[];
}

/** Polls every intervalMs for durationMs on a fake clock, from a state (or fresh). */
function simulate(load: Load, durationMs: number, options: { intervalMs?: number; settings?: AnomalySettings; from?: Run } = {}): Run {
  const intervalMs = options.intervalMs ?? MINUTE;
  const settings = options.settings ?? DEFAULTS;
  const clock = new FakeClock(options.from ? START + options.from.verdicts.at(-1)!.t : START);
  let state = options.from?.state;
  const verdicts: Run['verdicts'] = [];
  const end = clock.now() + durationMs;
  while (clock.now() < end) {
    clock.advance(intervalMs);
    const t = clock.now() - START;
    const result = observe(state, signals(clock.now(), intervalMs, load(t)), settings);
    state = result.state;
    verdicts.push({ t, verdict: result.verdict });
  }
  return { state: state!, verdicts };
}

const anomalous = (run: Run) => run.verdicts.filter((v) => v.verdict.state === 'Anomalous');

/** A steady cache with noise: requests and connections by a few percent, the hit ratio by the binomial spread of its gets. */
function steady(seed: number, overrides: Partial<{ hitRatio: number; requests: number; connections: number; evictions: number }> = {}): Load {
  const z = normal(uniform(seed));
  const { hitRatio = 0.9, requests = 1000, connections = 60, evictions = 0 } = overrides;
  return () => ({
    hitRatio: Math.min(1, Math.max(0, hitRatio + z() * Math.sqrt((hitRatio * (1 - hitRatio)) / (requests * 48)))),
    evictionsPerSecond: evictions,
    requestsPerSecond: requests * Math.exp(0.05 * z()),
    connections: Math.round(connections * Math.exp(0.03 * z())),
  });
}

/** A daily swing: requests from 200/s at night to 1800/s by day, connections and hit ratio swinging along. */
function dailySwing(seed: number): Load {
  const z = normal(uniform(seed));
  return (t) => {
    const phase = Math.sin((2 * Math.PI * t) / DAY);
    return {
      hitRatio: 0.88 + 0.04 * phase + 0.005 * z(),
      evictionsPerSecond: 0,
      requestsPerSecond: 1000 * (1 + 0.8 * phase) * Math.exp(0.05 * z()),
      connections: Math.round(60 * (1 + 0.5 * phase) * Math.exp(0.03 * z())),
    };
  };
}

/** A load with a change from `at` until `until`. */
function withChange(base: Load, at: number, until: number, change: (l: ReturnType<Load>) => ReturnType<Load>): Load {
  return (t) => (t >= at && t < until ? change(base(t)) : base(t));
}

describe('autopilot/baseline: abnormality detection', () => {
  it('a steady cache: learning for the learning period, then usual, with no departure in a week', () => {
    const run = simulate(steady(1), 7 * DAY);
    expect(run.verdicts.filter((v) => v.t < DAY).every((v) => v.verdict.state === 'Learning')).to.equal(true);
    expect(run.verdicts.filter((v) => v.t > DAY).every((v) => v.verdict.state === 'Usual')).to.equal(true);
    expect(anomalous(run)).to.deep.equal([]);
  });

  it('a daily swing (requests 9x from night to day): quiet once learned, for a week', () => {
    const run = simulate(dailySwing(2), 8 * DAY);
    expect(anomalous(run).map((v) => `${(v.t / HOUR).toFixed(1)}h ${JSON.stringify(v.verdict.flagged)}`)).to.deep.equal([]);
  });

  it('a daily swing seen from mid-morning, with a day to learn: quiet too', () => {
    const offset = 10 * HOUR + 40 * MINUTE;
    const swing = dailySwing(3);
    const run = simulate((t) => swing(t + offset), 5 * DAY);
    expect(anomalous(run)).to.deep.equal([]);
  });

  describe('the hit ratio halves, at the 60 s poll', () => {
    const stepAt = 3 * DAY + 14 * HOUR + 20 * 1000;
    const back = stepAt + 30 * MINUTE;
    const load = withChange(dailySwing(4), stepAt, back, (l) => ({ ...l, hitRatio: l.hitRatio! / 2 }));
    const run = simulate(load, 4 * DAY);
    const flaggedAt = anomalous(run).map((v) => v.t);

    it('is flagged within 2 minutes, naming the hit ratio', () => {
      expect(flaggedAt.length).to.be.greaterThan(0);
      expect(flaggedAt[0] - stepAt).to.be.at.most(2 * MINUTE);
      const first = run.verdicts.find((v) => v.t === flaggedAt[0])!.verdict;
      expect(first.flagged.map((d) => [d.signal, d.direction])).to.deep.equal([['hitRatio', 'Low']]);
      expect(first.flagged[0].expected).to.be.closeTo(0.88 + 0.04 * Math.sin((2 * Math.PI * flaggedAt[0]) / DAY), 0.03);
      expect(anomalyCondition(first)).to.deep.include({ type: 'Anomalous', status: 'True', reason: 'HitRatioLow' });
    });

    it('stays flagged while it lasts (its polls are not learned), and clears within 3 polls of its return', () => {
      const during = run.verdicts.filter((v) => v.t >= flaggedAt[0] && v.t < back);
      expect(during.every((v) => v.verdict.state === 'Anomalous')).to.equal(true);
      expect(flaggedAt.at(-1)! - back).to.be.at.most(3 * MINUTE);
      expect(anomalous(run).every((v) => v.t >= stepAt && v.t <= back + 3 * MINUTE)).to.equal(true);
    });
  });

  it('a smaller departure (hit ratio 60% -> 30%) is flagged after three polls in a row: within 4 minutes at the 60 s poll', () => {
    const stepAt = 2 * DAY + 9 * HOUR + 30_000;
    const run = simulate(withChange(steady(15, { hitRatio: 0.6 }), stepAt, 3 * DAY, (l) => ({ ...l, hitRatio: l.hitRatio! / 2 })), 2 * DAY + 10 * HOUR);
    const first = anomalous(run)[0];
    expect(first.t - stepAt).to.be.within(2 * MINUTE, 4 * MINUTE);
  });

  it('noise with heavy tails (one poll in twenty three times as noisy, at and above the floors): no departure in 40 days at factor 4; factor 3 is not enough', () => {
    const episodes = (factor: number) => [1, 2, 3, 4, 5].map((seed) => {
      const next = uniform(seed);
      const gauss = normal(next);
      const z = () => gauss() * (next() < 0.05 ? 3 : 1);
      const load: Load = (t) => {
        const phase = Math.sin((2 * Math.PI * t) / DAY);
        return {
          hitRatio: Math.min(1, 0.85 + 0.04 * phase + 0.04 * z()),
          evictionsPerSecond: 2 * Math.exp(0.5 * z()),
          requestsPerSecond: 1000 * (1 + 0.8 * phase) * Math.exp(0.3 * z()),
          connections: Math.round(60 * (1 + 0.5 * phase) * Math.exp(0.2 * z())),
        };
      };
      const run = simulate(load, 8 * DAY, { settings: { ...DEFAULTS, factor } });
      return run.verdicts.filter((v, i) => v.verdict.state === 'Anomalous' && run.verdicts[i - 1]?.verdict.state !== 'Anomalous').length;
    });
    expect(episodes(4)).to.deep.equal([0, 0, 0, 0, 0]);
    // docs/autopilot.md cites this figure for the choice of 4.
    expect(episodes(3).reduce((a, b) => a + b, 0)).to.equal(22);
  });

  it('the hit ratio halves at a 5 s poll with a 2 minute learning period (the kind proof): quiet for 10 steady minutes, flagged within 10 s, cleared after', () => {
    const settings = { factor: 4, learningPeriodMs: 2 * MINUTE };
    const stepAt = 12 * MINUTE + 2000;
    const back = 15 * MINUTE;
    const base = steady(5, { requests: 50, hitRatio: 0.8, connections: 4 });
    const run = simulate(withChange(base, stepAt, back, (l) => ({ ...l, hitRatio: l.hitRatio! / 2 })), 20 * MINUTE, { intervalMs: 5000, settings });
    const flagged = anomalous(run).map((v) => v.t);
    expect(flagged[0] - stepAt).to.be.at.most(10_000);
    expect(flagged.every((t) => t >= stepAt && t <= back + 15_000)).to.equal(true);
    expect(run.verdicts.at(-1)!.verdict.state).to.equal('Usual');
  });

  it('evictions on a cache that never evicted are flagged at once; a trickle under half a second is not', () => {
    const base = steady(6);
    const trickle = simulate(withChange(base, 2 * DAY, 3 * DAY, (l) => ({ ...l, evictionsPerSecond: 0.3 })), 3 * DAY);
    expect(anomalous(trickle)).to.deep.equal([]);
    const storm = simulate(withChange(base, 2 * DAY + 30_000, 3 * DAY, (l) => ({ ...l, evictionsPerSecond: 20 })), 3 * DAY);
    expect(anomalous(storm)[0].t - (2 * DAY + 30_000)).to.be.at.most(MINUTE);
    expect(anomalous(storm)[0].verdict.flagged[0]).to.deep.include({ signal: 'evictionsPerSecond', direction: 'High' });
  });

  it('a cache that always evicts is not flagged for evicting as usual', () => {
    expect(anomalous(simulate(steady(7, { evictions: 40 }), 4 * DAY))).to.deep.equal([]);
  });

  it('a hit ratio that rises, or a single-poll burst of requests, is no departure', () => {
    const base = steady(8, { hitRatio: 0.7 });
    const better = simulate(withChange(base, 2 * DAY, 3 * DAY, (l) => ({ ...l, hitRatio: 0.99 })), 3 * DAY);
    expect(anomalous(better)).to.deep.equal([]);
    const burst = simulate(withChange(base, 2 * DAY, 2 * DAY + MINUTE, (l) => ({ ...l, requestsPerSecond: l.requestsPerSecond * 3 })), 3 * DAY);
    expect(anomalous(burst)).to.deep.equal([]);
  });

  it('traffic that stops is flagged (request rate low)', () => {
    const run = simulate(withChange(steady(9), 2 * DAY, 3 * DAY, (l) => ({ ...l, requestsPerSecond: 0, hitRatio: undefined })), 3 * DAY);
    expect(anomalous(run)[0].verdict.flagged.map((d) => [d.signal, d.direction])).to.deep.equal([['requestsPerSecond', 'Low']]);
  });

  it('a fresh cache never flags while it learns, whatever it does', () => {
    const wild = withChange(steady(10), 6 * HOUR, 12 * HOUR, (l) => ({ ...l, hitRatio: 0.1, evictionsPerSecond: 500, requestsPerSecond: 1 }));
    const run = simulate(wild, DAY - MINUTE);
    expect(run.verdicts.every((v) => v.verdict.state === 'Learning')).to.equal(true);
    expect(anomalyCondition(run.verdicts[0].verdict)).to.deep.include({ status: 'False', reason: 'Learning' });
  });

  it('a departure that lasts a whole learning period becomes the usual level: learned again, then quiet at the new level', () => {
    const run = simulate(withChange(steady(11), 2 * DAY, 10 * DAY, (l) => ({ ...l, hitRatio: l.hitRatio! / 2 })), 5 * DAY);
    const relearned = run.verdicts.filter((v) => v.verdict.relearned);
    expect(relearned).to.have.length(1);
    expect(relearned[0].t).to.be.closeTo(3 * DAY, 3 * MINUTE);
    expect(run.verdicts.filter((v) => v.t > 4 * DAY + MINUTE).every((v) => v.verdict.state === 'Usual')).to.equal(true);
  });

  describe('stored', () => {
    const learned = simulate(dailySwing(12), 3 * DAY + 14 * HOUR);

    it('fits in a few hundred bytes once a whole day is learned', () => {
      const text = serializeBaseline(learned.state);
      expect(text.length).to.be.at.most(600);
      expect(learned.state.signals.requestsPerSecond.knownHours).to.equal(0xffffff);
    });

    it('survives a round trip (an operator restart): the same verdicts afterwards', () => {
      const restored = parseBaseline(serializeBaseline(learned.state))!;
      expect(restored).to.not.equal(undefined);
      const step = withChange(dailySwing(13), 3 * DAY + 14 * HOUR + 5 * MINUTE, 4 * DAY, (l) => ({ ...l, hitRatio: l.hitRatio! / 2 }));
      const after = simulate(step, HOUR, { from: { ...learned, state: restored } });
      const flagged = anomalous(after);
      expect(flagged[0].t - (3 * DAY + 14 * HOUR + 5 * MINUTE)).to.be.at.most(2 * MINUTE);
      expect(after.verdicts.filter((v) => v.t < 3 * DAY + 14 * HOUR + 5 * MINUTE).every((v) => v.verdict.state === 'Usual')).to.equal(true);
    });

    it('keeps a flag through a round trip', () => {
      const state = freshBaseline(START);
      state.signals.hitRatio = { ...state.signals.hitRatio, flagged: { since: START - 60_000, direction: 'Low' }, streak: 1 };
      expect(parseBaseline(serializeBaseline(state))!.signals.hitRatio).to.deep.include({ flagged: { since: START - 60_000, direction: 'Low' }, streak: 1 });
    });

    const text = serializeBaseline(learned.state);
    const garbage: [string, string | undefined][] = [
      ['nothing', undefined],
      ['an empty string', ''],
      ['not JSON', 'baseline!'],
      ['truncated', text.slice(0, text.length - 9)],
      ['JSON of another shape', '{"a":1}'],
      ['an array', '[1,2,3]'],
      ['null', 'null'],
      ['another version', text.replace('"v":1', '"v":2')],
      ['a negative variance', text.replace(/"h":\[([^,]+),[^,]+,/, '"h":[$1,-1,')],
      ['hour levels cut short', text.replace(/"r":\[([^,]+),([^,]+),([^,]+),"[^"]{4}/, '"r":[$1,$2,$3,"')],
      ['hour levels that are not base64', text.replace(/"c":\[([^,]+),([^,]+),([^,]+),"[^"]{3}/, '"c":[$1,$2,$3,"!!!')],
      ['a missing signal', text.replace(/"e":\[[^\]]*\],/, '')],
      ['a flag without a direction', text.replace(/"h":\[([^\]]*)\]/, '"h":[$1,5]')],
      ['numbers as strings', text.replace(/"at":(\d+)/, '"at":"$1"')],
      ['a huge document', `{"v":1,"pad":"${'x'.repeat(10_000)}"}`],
      ['a deep one', '['.repeat(5000) + ']'.repeat(5000)],
    ];
    for (const [name, input] of garbage) {
      it(`a stored state that is ${name} reads as none (the cache learns again), without throwing`, () => {
        expect(parseBaseline(input)).to.equal(undefined);
      });
    }

    it('a garbage state and a state from the future start over instead of stalling', () => {
      const future = { ...learned.state, at: learned.state.at + 30 * DAY };
      const result = observe(future, signals(learned.state.at + MINUTE, MINUTE, steady(14)(0)), DEFAULTS);
      expect(result.state.at).to.equal(learned.state.at + MINUTE);
      expect(result.verdict.state).to.equal('Learning');
      expect(observe(parseBaseline('garbage'), signals(START, MINUTE, steady(14)(0)), DEFAULTS).verdict.state).to.equal('Learning');
    });
  });

  it('words the condition without numbers that move, naming every flagged signal', () => {
    const verdict: Verdict = {
      state: 'Anomalous',
      flagged: [
        { signal: 'evictionsPerSecond', direction: 'High', observed: 5, expected: 0 },
        { signal: 'requestsPerSecond', direction: 'Low' },
      ],
    };
    expect(anomalyCondition(verdict)).to.deep.equal({
      type: 'Anomalous',
      status: 'True',
      reason: 'EvictionsUnusual',
      message: 'evictions far above its usual level for this hour of day; request rate far below its usual level for this hour of day',
    });
    expect(anomalyCondition({ state: 'Usual', flagged: [] })).to.deep.include({ status: 'False', reason: 'Usual' });
  });
});
