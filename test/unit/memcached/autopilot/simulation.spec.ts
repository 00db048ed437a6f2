// The scaling policy against a simulated cache under load (cachemodel.ts),
// at the CRD's defaults: the figures docs/autopilot.md gives for them are
// the ones this run gets, row by row.
import { expect } from 'chai';
import type { MemcachedSpec } from '../../../../src/api/types.js';
import { SCALE_IN_HEADROOM_PERCENT } from '../../../../src/memcached/autopilot/policy.js';
import { autoscalingSettings, type AutoscalingSettings } from '../../../../src/memcached/autopilot/settings.js';
import { markedTable, readPage } from '../../docs/markdown.js';
import { FULL_SHARE, HOUR, MINUTE, simulate, type Load, type SimulationResult } from './cachemodel.js';
import { normal, uniform } from './random.js';

const DAY = 24 * HOUR;

/** The CRD's defaults, with the bounds each scenario names. */
function defaults(maxMemoryLimitMB?: number): AutoscalingSettings {
  const spec: MemcachedSpec = { memoryLimitMB: 1024, autoscaling: { enabled: true, maxReplicas: 12, ...(maxMemoryLimitMB ? { maxMemoryLimitMB } : {}) } };
  const r = autoscalingSettings(spec, 'HighlyAvailable');
  if (!r.ok) throw new Error(r.message);
  return r.settings;
}

/** The capacity of 3 servers of 1024 MB, full. */
const C3 = 3 * 1024 * FULL_SHARE;
const START = { replicas: 3, memoryLimitMB: 1024 };
const constant = (workingSetMB: number): Load => ({ workingSetMB: () => workingSetMB, getsPerSecond: () => 5000 });
// Just under 3x, so that 9 servers hold it exactly.
const triple = constant(3 * C3 * 0.99);
/** A tenth of that: the working set after the drop. */
const DROPPED_TO_MB = 0.3 * C3 * 0.99;

/** A working set that wanders around `level` by `share`, correlated over about 10 minutes (seeded). */
function wandering(level: number, share: number, seed: number): Load {
  const z = normal(uniform(seed));
  const path: number[] = [];
  let x = 0;
  return {
    workingSetMB: (t) => {
      const minute = Math.floor(t / MINUTE);
      while (path.length <= minute) {
        x = x * Math.exp(-0.1) + share * Math.sqrt(1 - Math.exp(-0.2)) * z();
        path.push(x);
      }
      return level * (1 + path[minute]);
    },
    getsPerSecond: () => 5000,
  };
}

interface Scenario {
  run: () => SimulationResult[];
}

const SCENARIOS: Record<string, Scenario> = {
  'working set 3x the cache, servers only': { run: () => [simulate(defaults(), { ...START, storedMB: C3 }, triple, 8 * HOUR)] },
  'working set 3x the cache, memory up to 4096 MB': { run: () => [simulate(defaults(4096), { ...START, storedMB: C3 }, triple, 8 * HOUR)] },
  'working set 3x the cache, memory up to 2048 MB': { run: () => [simulate(defaults(2048), { ...START, storedMB: C3 }, triple, 8 * HOUR)] },
  'then the load drops to a tenth (at 4 h)': {
    run: () => [
      simulate(defaults(), { ...START, storedMB: C3 }, { workingSetMB: (t) => (t < 4 * HOUR ? 3 * C3 * 0.99 : DROPPED_TO_MB), getsPerSecond: (t) => (t < 4 * HOUR ? 5000 : 500) }, 12 * HOUR),
    ],
  },
  'steady at half the capacity, 24 h': { run: () => [simulate(defaults(), START, constant(0.5 * C3), DAY)] },
  'steady at 95% of the capacity, not evicting, 24 h': { run: () => [simulate(defaults(), START, constant(0.95 * C3), DAY)] },
  'working set wandering ±10% around the capacity, 24 h, 5 seeds': {
    run: () => [1, 2, 3, 4, 5].map((seed) => simulate(defaults(), { ...START, storedMB: C3 }, wandering(C3, 0.1, seed), DAY, seed)),
  },
  'working set wandering ±10% around 75% of the capacity, 24 h, 5 seeds': {
    run: () => [1, 2, 3, 4, 5].map((seed) => simulate(defaults(), START, wandering(0.75 * C3, 0.1, seed), DAY, seed)),
  },
  'working set swinging ±40% around the capacity each day, 3 days': {
    run: () => [simulate(defaults(), START, { workingSetMB: (t) => C3 * (1 + 0.4 * Math.sin((2 * Math.PI * t) / DAY)), getsPerSecond: () => 5000 }, 3 * DAY)],
  },
};

/** "6 ScaleOut, 1 ScaleIn" in the order they first happened; "none". */
function stepsText(r: SimulationResult): string {
  const counts = new Map<string, number>();
  for (const a of r.actions) counts.set(a.action, (counts.get(a.action) ?? 0) + 1);
  return counts.size === 0 ? 'none' : [...counts].map(([action, n]) => `${n} ${action}`).join(', ');
}

const distinct = (cells: string[]): string => [...new Set(cells)].join('; ');

function row(results: SimulationResult[]): Record<string, string> {
  return {
    Steps: distinct(results.map(stepsText)),
    'Ends at': distinct(results.map((r) => `${r.replicas} x ${r.memoryLimitMB} MB`)),
    'Last step': results.map((r) => (r.actions.length ? `${Math.round(r.actions.at(-1)!.t / MINUTE)} min` : '-')).join(', '),
    'Minutes evicting': results.map((r) => String(r.evictingMinutes.length)).join(', '),
  };
}

describe('autopilot/policy: simulated against a cache under load, at the CRD defaults', () => {
  const results = new Map(Object.entries(SCENARIOS).map(([name, s]) => [name, s.run()]));

  it('docs/autopilot.md gives the figures the simulation gets, for every scenario and no other', () => {
    const table = markedTable(readPage('docs/autopilot.md').text, 'autopilot-simulations');
    const documented = Object.fromEntries(table.map((r) => [r.cells.Scenario, r.cells]));
    const computed = Object.fromEntries([...results].map(([name, rs]) => [name, { Scenario: name, ...row(rs) }]));
    expect(documented).to.deep.equal(computed);
  });

  it('3x the cache: steps out one server at a time, then stops for good', () => {
    const [r] = results.get('working set 3x the cache, servers only')!;
    expect(r.actions.map((a) => a.to)).to.deep.equal([4, 5, 6, 7, 8, 9]);
    expect(r.actions.at(-1)!.t).to.be.below(2 * HOUR);
    expect(r.evictingMinutes.at(-1)!).to.be.below(2 * HOUR);
  });

  it('memory before servers: never a server while memory can still grow', () => {
    const [r] = results.get('working set 3x the cache, memory up to 2048 MB')!;
    expect(r.actions.map((a) => a.action)).to.deep.equal(['GrowMemory', 'ScaleOut', 'ScaleOut']);
  });

  it('never a step in while the cache evicted within the scale-in cooldown', () => {
    const cooldown = defaults().scaleInCooldownMs;
    for (const [name, rs] of results) {
      for (const r of rs) {
        const early = r.actions.filter((a) => a.action === 'ScaleIn' && r.evictingMinutes.some((e) => e <= a.t && e > a.t - cooldown));
        expect(early, name).to.deep.equal([]);
      }
    }
  });

  it('the load dropped to a tenth: steps in only after the scale-in cooldown of quiet, one server per cooldown, while one less keeps the use 15 points under the target', () => {
    const [r] = results.get('then the load drops to a tenth (at 4 h)')!;
    const ins = r.actions.filter((a) => a.action === 'ScaleIn');
    expect(ins[0].t - 4 * HOUR).to.be.at.least(defaults().scaleInCooldownMs);
    ins.slice(1).forEach((a, i) => expect(a.t - ins[i].t).to.be.at.least(defaults().scaleInCooldownMs));
    const { minReplicas, targetMemoryPercent } = defaults();
    const usePercentWithOneLess = (100 * DROPPED_TO_MB) / ((r.replicas - 1) * r.memoryLimitMB);
    expect(r.replicas).to.be.at.least(minReplicas);
    if (r.replicas > minReplicas) expect(usePercentWithOneLess).to.be.above(targetMemoryPercent - SCALE_IN_HEADROOM_PERCENT);
  });

  it('no flapping: noise around the capacity gives at most one step out, and never a step back in', () => {
    for (const r of results.get('working set wandering ±10% around the capacity, 24 h, 5 seeds')!) {
      expect(r.actions.map((a) => a.action)).to.deep.equal(['ScaleOut']);
    }
  });

  it('a daily swing is followed at most one step each way a day, never two opposite steps within 11 hours', () => {
    const [r] = results.get('working set swinging ±40% around the capacity each day, 3 days')!;
    r.actions.slice(1).forEach((a, i) => {
      if (a.action !== r.actions[i].action) expect(a.t - r.actions[i].t).to.be.at.least(11 * HOUR);
    });
    expect(r.actions.filter((a) => a.action === 'ScaleIn').length).to.be.at.most(3);
  });
});
