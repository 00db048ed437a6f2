// What the auto pilot remembers between polls: the window's signals, and the
// stored baseline taken back once.
import { expect } from 'chai';
import type { Memcached } from '../../../../src/api/types.js';
import { serializeBaseline, freshBaseline } from '../../../../src/memcached/autopilot/baseline.js';
import { AutopilotMemory, autoscalingWindowMs, trimmedHistory } from '../../../../src/memcached/autopilot/memory.js';
import type { CacheSignals } from '../../../../src/memcached/autopilot/signals.js';
import { sampleOf } from '../../../../src/memcached/monitoring/usage.js';

const T0 = Date.UTC(2026, 0, 5, 12);
const signal = (at: number): CacheSignals => ({ at, intervalMs: 10_000, pods: 1, memoryUsedPercent: 1, memoryUsedPercentMax: 1, connections: 1 });

function memcached(autoscaling: object | undefined): Memcached {
  return { metadata: { name: 'c', namespace: 'ns', uid: 'u1' }, spec: { autoscaling } } as unknown as Memcached;
}

function sample(bytes: number, gets: number, hits: number, uptime: number) {
  const stats = new Map(Object.entries({ bytes: bytes, limit_maxbytes: 1000, get_hits: hits, get_misses: gets - hits, cmd_get: gets, uptime, curr_connections: 3 }).map(([k, v]) => [k, String(v)]));
  return sampleOf('c-0', stats);
}

describe('autopilot/memory', () => {
  it('keeps the window and one signal before it, oldest first', () => {
    const history = [0, 10, 20, 30, 40].map((s) => signal(T0 + s * 1000));
    expect(trimmedHistory(history, signal(T0 + 50_000), 25_000).map((s) => (s.at - T0) / 1000)).to.deep.equal([20, 30, 40, 50]);
    expect(trimmedHistory([], signal(T0), 25_000)).to.have.length(1);
  });

  it('looks back the longer of evictingFor and the scale-in cooldown, and not at all when off', () => {
    expect(autoscalingWindowMs({ autoscaling: { enabled: true, maxReplicas: 4, evictingFor: '1m', scaleInCooldown: '4m' } })).to.equal(240_000);
    expect(autoscalingWindowMs({ autoscaling: { enabled: false, maxReplicas: 4 } })).to.equal(undefined);
    expect(autoscalingWindowMs({})).to.equal(undefined);
  });

  it('asks for reconciles only of caches the auto pilot acts on, and remembers nothing of the others', () => {
    const memory = new AutopilotMemory({ storedBaseline: () => undefined });
    expect(memory.record(memcached(undefined), { at: T0, pods: [sample(10, 0, 0, 100)] })).to.equal(false);
    const scaled = memcached({ enabled: true, maxReplicas: 4 });
    expect(memory.record(scaled, { at: T0, pods: [sample(10, 0, 0, 100)] })).to.equal(true);
    expect(memory.record(scaled, { at: T0 + 10_000, pods: [sample(20, 100, 90, 110)] })).to.equal(true);
    expect(memory.history(scaled).map((s) => s.hitRatio)).to.deep.equal([undefined, 0.9]);
    memory.retain([]);
    expect(memory.history(scaled)).to.deep.equal([]);
  });

  it('takes the stored baseline back the first time it sees a cache, and learns on from it', () => {
    const stored = freshBaseline(T0 - 10_000);
    stored.learnedMs = 3_600_000;
    let reads = 0;
    const memory = new AutopilotMemory({ storedBaseline: () => (reads++, serializeBaseline(stored)) });
    const detecting = memcached({ anomalyDetection: { enabled: true, learningPeriod: '1h' } });
    memory.record(detecting, { at: T0, pods: [sample(10, 0, 0, 100)] });
    memory.record(detecting, { at: T0 + 10_000, pods: [sample(20, 100, 90, 110)] });
    expect(reads).to.equal(1);
    expect(memory.anomaly(detecting)?.baseline.learnedMs).to.be.greaterThan(3_600_000);
    expect(memory.anomaly(detecting)?.verdict.state).to.equal('Usual');
  });
});
