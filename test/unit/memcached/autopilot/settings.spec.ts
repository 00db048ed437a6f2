import { expect } from 'chai';
import type { AutoscalingStatus, MemcachedSpec } from '../../../../src/api/types.js';
import {
  anomalySettings,
  autoscalingSettings,
  effectiveScale,
  replicaBounds,
  type AutoscalingSettings,
} from '../../../../src/memcached/autopilot/settings.js';

const on = (autoscaling: MemcachedSpec['autoscaling'], spec: MemcachedSpec = {}): MemcachedSpec => ({ ...spec, autoscaling: { enabled: true, ...autoscaling } });

function settingsOf(spec: MemcachedSpec, infrastructure: 'HighlyAvailable' | 'SingleReplica' = 'HighlyAvailable'): AutoscalingSettings {
  const r = autoscalingSettings(spec, infrastructure);
  if (!r.ok) throw new Error(r.message);
  return r.settings;
}

describe('autopilot/settings', () => {
  it('takes the CRD\'s defaults: target 65%, more than 1 eviction/s for 5m, cooldowns 10m out and 20m in, no vertical scaling', () => {
    expect(settingsOf(on({ maxReplicas: 6 }))).to.deep.equal({
      minReplicas: 2, maxReplicas: 6, targetMemoryPercent: 50, evictionsPerSecond: 1, evictingForMs: 300_000,
      scaleOutCooldownMs: 600_000, scaleInCooldownMs: 1_200_000, memoryFloorMB: 64, memoryCeilingMB: 64,
    });
  });

  it('reads every field', () => {
    const spec = on(
      { minReplicas: 3, maxReplicas: 9, targetMemoryPercent: 70, evictionsPerSecond: '0.25', evictingFor: '45s', scaleOutCooldown: '1m30s', scaleInCooldown: '2h', maxMemoryLimitMB: 1024 },
      { memoryLimitMB: 256 },
    );
    expect(settingsOf(spec)).to.deep.equal({
      minReplicas: 3, maxReplicas: 9, targetMemoryPercent: 70, evictionsPerSecond: 0.25, evictingForMs: 45_000,
      scaleOutCooldownMs: 90_000, scaleInCooldownMs: 7_200_000, memoryFloorMB: 256, memoryCeilingMB: 1024,
    });
  });

  describe('replica bounds from the topology', () => {
    const cases: [string, number | undefined, number, 'HighlyAvailable' | 'SingleReplica', number, number, RegExp | undefined][] = [
      ['HA, min unset: 2', undefined, 5, 'HighlyAvailable', 2, 5, undefined],
      ['HA, min 3', 3, 5, 'HighlyAvailable', 3, 5, undefined],
      ['HA never below 2', 1, 5, 'HighlyAvailable', 2, 5, /minReplicas 1 is raised to 2/],
      ['HA with max 1: raised to 2', undefined, 1, 'HighlyAvailable', 2, 2, /maxReplicas 1 is raised to 2/],
      ['single node: 1, whatever max says', 2, 8, 'SingleReplica', 1, 1, /single-node placement runs 1 replica/],
      ['single node, max 1: nothing to say', undefined, 1, 'SingleReplica', 1, 1, undefined],
    ];
    for (const [name, min, max, infra, wantMin, wantMax, note] of cases) {
      it(name, () => {
        const b = replicaBounds(min, max, infra);
        expect([b.min, b.max]).to.deep.equal([wantMin, wantMax]);
        if (note) expect(b.notes.join(' ')).to.match(note);
        else expect(b.notes).to.deep.equal([]);
      });
    }
  });

  describe('bad values (an object stored before a CRD upgrade) are messages, never throws', () => {
    const bad: [string, MemcachedSpec, RegExp][] = [
      ['no maxReplicas', on({}), /maxReplicas is required/],
      ['a duration without a unit', on({ maxReplicas: 3, scaleInCooldown: '20' }), /scaleInCooldown: "20" is not a duration/],
      ['a decimal that is not one', on({ maxReplicas: 3, evictionsPerSecond: 'lots' }), /evictionsPerSecond: "lots" is not a decimal/],
      ['a negative threshold', on({ maxReplicas: 3, evictionsPerSecond: '-1' }), /is not a decimal/],
      ['a target of 0', on({ maxReplicas: 3, targetMemoryPercent: 0 }), /targetMemoryPercent: 0 is not a percentage/],
    ];
    for (const [name, spec, message] of bad) {
      it(name, () => {
        const r = autoscalingSettings(spec, 'HighlyAvailable');
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.message).to.match(message);
      });
    }

    it('a memory ceiling below the floor keeps the floor, and says so', () => {
      const r = autoscalingSettings(on({ maxReplicas: 3, maxMemoryLimitMB: 32 }), 'HighlyAvailable');
      expect(r.ok && r.settings.memoryCeilingMB).to.equal(64);
      expect(r.ok && r.notes.join(' ')).to.match(/maxMemoryLimitMB 32 is below memoryLimitMB 64/);
    });
  });

  describe('anomaly detection', () => {
    it('is off unless enabled', () => {
      expect(anomalySettings({})).to.equal(undefined);
      expect(anomalySettings(on({ maxReplicas: 3 }))).to.equal(undefined);
      expect(anomalySettings({ autoscaling: { anomalyDetection: { enabled: false } } })).to.equal(undefined);
    });

    it('takes factor 4 and a day of learning by default, with scaling on or off', () => {
      expect(anomalySettings({ autoscaling: { anomalyDetection: { enabled: true } } })).to.deep.equal({ ok: true, settings: { factor: 4, learningPeriodMs: 86_400_000 }, notes: [] });
      expect(anomalySettings({ autoscaling: { anomalyDetection: { enabled: true, factor: '2.5', learningPeriod: '2m' } } })).to.deep.include({ settings: { factor: 2.5, learningPeriodMs: 120_000 } });
    });

    it('reports a bad factor or period', () => {
      expect(anomalySettings({ autoscaling: { anomalyDetection: { enabled: true, factor: '0.5' } } })).to.deep.include({ ok: false });
      expect(anomalySettings({ autoscaling: { anomalyDetection: { enabled: true, learningPeriod: 'a day' } } })).to.deep.include({ ok: false });
    });
  });

  describe('effectiveScale: how spec.size and memoryLimitMB meet autoscaling', () => {
    const settings = settingsOf(on({ minReplicas: 2, maxReplicas: 8, maxMemoryLimitMB: 512 }, { memoryLimitMB: 128 }));
    const spec = (size?: number, memoryLimitMB = 128): MemcachedSpec => ({ ...(size !== undefined ? { size } : {}), memoryLimitMB });
    const status = (s: Partial<AutoscalingStatus>): AutoscalingStatus => ({ desiredReplicas: 5, memoryLimitMB: 256, specSize: 3, specMemoryLimitMB: 128, ...s });

    const cases: [string, MemcachedSpec, number, AutoscalingStatus | undefined, [number, number]][] = [
      ['just enabled: the spec is the starting point', spec(3), 3, undefined, [3, 128]],
      ['just enabled without size: the topology\'s size', spec(), 3, undefined, [3, 128]],
      ['just enabled, size above the max: clamped', spec(12), 12, undefined, [8, 128]],
      ['just enabled, size below the min: clamped', spec(1), 1, undefined, [2, 128]],
      ['running: the status holds', spec(3), 3, status({}), [5, 256]],
      ['size edited: the new size is the new starting point', spec(4), 4, status({}), [4, 256]],
      ['size removed: the topology\'s size', spec(), 3, status({}), [3, 256]],
      ['memory edited: the new memory is the new starting point', spec(3, 192), 3, status({}), [5, 192]],
      ['a narrowed bound applies at once', spec(3), 3, status({ desiredReplicas: 11, memoryLimitMB: 1024 }), [8, 512]],
    ];
    for (const [name, s, start, st, [replicas, memory]] of cases) {
      it(name, () => {
        const floorFor = settingsOf(on({ minReplicas: 2, maxReplicas: 8, maxMemoryLimitMB: 512 }, { memoryLimitMB: s.memoryLimitMB }));
        const e = effectiveScale(s, start, s.memoryLimitMB === 128 ? settings : floorFor, st);
        expect([e.replicas, e.memoryLimitMB]).to.deep.equal([replicas, memory]);
        expect(e.specSize).to.equal(s.size);
        expect(e.specMemoryLimitMB).to.equal(s.memoryLimitMB);
      });
    }
  });
});
