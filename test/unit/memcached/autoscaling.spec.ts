// The auto pilot in the report step: the Anomalous condition from the last
// verdict, and one Event per step.
import { expect } from 'chai';
import type { Condition, Memcached } from '../../../src/api/types.js';
import { freshBaseline, type Verdict } from '../../../src/memcached/autopilot/baseline.js';
import { autopilotEvents, RecordedSteps, withAnomalyCondition, type AutopilotReader } from '../../../src/memcached/autoscaling.js';
import type { Outcome } from '../../../src/memcached/outcome.js';

const NOW = new Date(Date.UTC(2026, 0, 5, 12));
const detecting = { autoscaling: { anomalyDetection: { enabled: true, learningPeriod: '1h' } } };

function memcached(spec: object, conditions: Condition[] = []): Memcached {
  return { metadata: { name: 'c', namespace: 'ns', uid: 'u1' }, spec, status: { conditions } } as unknown as Memcached;
}

const reader = (verdict: Verdict | undefined): AutopilotReader => ({
  history: () => [],
  anomaly: () => (verdict ? { baseline: freshBaseline(0), verdict } : undefined),
});
const applied = { kind: 'applied' } as Exclude<Outcome, { kind: 'waiting' }>;
const invalid = { kind: 'invalid', message: 'bad' } as Exclude<Outcome, { kind: 'waiting' }>;
const flagged: Verdict = { state: 'Anomalous', flagged: [{ signal: 'hitRatio', direction: 'Low' }] };
const before: Condition = { type: 'Anomalous', status: 'False', reason: 'Usual', message: 'usual', lastTransitionTime: '2026-01-05T10:00:00Z' };

describe('autoscaling: the Anomalous condition', () => {
  it('is set from the verdict while detection is on', () => {
    const list = withAnomalyCondition([], memcached(detecting, [before]), applied, reader(flagged), NOW);
    expect(list).to.have.length(1);
    expect(list[0]).to.deep.include({ type: 'Anomalous', status: 'True', reason: 'HitRatioLow', lastTransitionTime: '2026-01-05T12:00:00Z' });
  });
  it('is carried over until the first verdict (an operator restart), and on an invalid spec', () => {
    expect(withAnomalyCondition([], memcached(detecting, [before]), applied, reader(undefined), NOW)).to.deep.equal([before]);
    expect(withAnomalyCondition([], memcached(detecting, [before]), invalid, reader(flagged), NOW)).to.deep.equal([before]);
  });
  it('keeps its transition time while the verdict stays the same', () => {
    const usual: Verdict = { state: 'Usual', flagged: [] };
    expect(withAnomalyCondition([], memcached(detecting, [before]), applied, reader(usual), NOW)[0].lastTransitionTime).to.equal(before.lastTransitionTime);
  });
  it('goes when detection is turned off', () => {
    expect(withAnomalyCondition([], memcached({}, [before]), applied, reader(flagged), NOW)).to.deep.equal([]);
  });
});

describe('autoscaling: Events and recorded steps', () => {
  it('records an Event per step, none for doing nothing', () => {
    const mc = memcached({});
    expect(autopilotEvents({ mc, decision: { action: 'ScaleOut', from: 2, to: 3, reason: 'MemoryFullAndEvicting', message: 'why' } }))
      .to.deep.equal([{ type: 'Normal', reason: 'ScaleOut', action: 'Autoscale', message: 'why' }]);
    expect(autopilotEvents({ mc, decision: { action: 'None', from: 2, to: 2, reason: 'Steady', message: '' } })).to.deep.equal([]);
    expect(autopilotEvents(undefined)).to.deep.equal([]);
  });
  it('builds from a recorded step until the cache shows it', () => {
    const steps = new RecordedSteps();
    const old = { ...memcached({}), status: { autoscaling: { desiredReplicas: 2, lastScaleTime: '2026-01-05T11:00:00.000Z' } } } as Memcached;
    steps.remember(old, { desiredReplicas: 3, lastScaleTime: '2026-01-05T12:00:00.000Z' });
    expect(steps.latest(old).status?.autoscaling?.desiredReplicas).to.equal(3);
    const caughtUp = { ...old, status: { autoscaling: { desiredReplicas: 3, lastScaleTime: '2026-01-05T12:00:30.000Z' } } } as Memcached;
    expect(steps.latest(caughtUp)).to.equal(caughtUp);
  });
});
