import { expect } from 'chai';
import type { PodSample } from '../../../../src/memcached/monitoring/usage.js';
import { countersRestarted, HIT_RATIO_MIN_GETS, signalsOf, type CacheReading } from '../../../../src/memcached/autopilot/signals.js';

const MB = 1 << 20;

function pod(name: string, fields: Partial<PodSample> = {}): PodSample {
  return {
    pod: name, currConnections: 10, maxConnections: 1024, rejectedConnections: 0, listenDisabled: 0, evictions: 0,
    bytes: 32 * MB, limitBytes: 64 * MB, uptime: 1000, getHits: 0, getMisses: 0, cmdGet: 0, cmdSet: 0, cmdTouch: 0, ...fields,
  };
}

/** The same pod 60 s later, with its counters risen by `by`. */
function later(p: PodSample, by: Partial<Record<'evictions' | 'getHits' | 'getMisses' | 'cmdSet' | 'cmdTouch', number>>, uptime = 60): PodSample {
  const hits = by.getHits ?? 0;
  const misses = by.getMisses ?? 0;
  return {
    ...p,
    uptime: p.uptime + uptime,
    evictions: p.evictions + (by.evictions ?? 0),
    getHits: p.getHits + hits,
    getMisses: p.getMisses + misses,
    cmdGet: p.cmdGet + hits + misses,
    cmdSet: p.cmdSet + (by.cmdSet ?? 0),
    cmdTouch: p.cmdTouch + (by.cmdTouch ?? 0),
  };
}

const at0 = 1_000_000;
const reading = (at: number, pods: PodSample[]): CacheReading => ({ at, pods });

describe('autopilot/signals', () => {
  it('memory use: the mean and the fullest pod; connections summed; no rates on the first poll', () => {
    const s = signalsOf(undefined, reading(at0, [pod('a', { bytes: 16 * MB }), pod('b', { bytes: 48 * MB, currConnections: 5 })]))!;
    expect(s).to.deep.equal({ at: at0, intervalMs: 0, pods: 2, memoryUsedPercent: 50, memoryUsedPercentMax: 75, connections: 15 });
  });

  it('rates per second over the whole cache, and the hit ratio of the interval', () => {
    const a = pod('a');
    const b = pod('b');
    const s = signalsOf(
      reading(at0, [a, b]),
      reading(at0 + 60_000, [later(a, { evictions: 60, getHits: 540, getMisses: 60, cmdSet: 60 }), later(b, { evictions: 0, getHits: 360, getMisses: 240, cmdTouch: 120 })]),
    )!;
    expect(s.intervalMs).to.equal(60_000);
    expect(s.evictionsPerSecond).to.equal(1);
    expect(s.getsPerSecond).to.equal(20);
    expect(s.requestsPerSecond).to.equal(23);
    expect(s.hitRatio).to.equal(0.75);
  });

  it('no hit ratio from too few gets', () => {
    const a = pod('a');
    const s = signalsOf(reading(at0, [a]), reading(at0 + 60_000, [later(a, { getHits: HIT_RATIO_MIN_GETS - 1 })]))!;
    expect(s.getsPerSecond).to.be.closeTo((HIT_RATIO_MIN_GETS - 1) / 60, 1e-9);
    expect(s).to.not.have.property('hitRatio');
  });

  it('a restarted pod gives no rate, neither negative nor huge; the others stand for it', () => {
    const a = pod('a', { evictions: 5000, getHits: 90_000, cmdGet: 100_000, getMisses: 10_000 });
    const b = pod('b', { evictions: 5000, getHits: 90_000, cmdGet: 100_000, getMisses: 10_000 });
    const restartedB: PodSample = { ...pod('b'), uptime: 20, getHits: 50, getMisses: 10, cmdGet: 60 };
    const s = signalsOf(reading(at0, [a, b]), reading(at0 + 60_000, [later(a, { evictions: 120, getHits: 900, getMisses: 300 }), restartedB]))!;
    expect(s.evictionsPerSecond).to.equal(4);
    expect(s.getsPerSecond).to.equal(40);
    expect(s.hitRatio).to.equal(0.75);
  });

  it('every pod restarted: no rates at all, still memory and connections', () => {
    const a = pod('a', { evictions: 10, uptime: 5000 });
    const s = signalsOf(reading(at0, [a]), reading(at0 + 60_000, [pod('a', { uptime: 3 })]))!;
    expect(s).to.not.have.any.keys('evictionsPerSecond', 'requestsPerSecond', 'getsPerSecond', 'hitRatio');
    expect(s.memoryUsedPercent).to.equal(50);
  });

  it('a new pod (scale out) has no rate yet; a pod gone is simply absent', () => {
    const a = pod('a');
    const s = signalsOf(reading(at0, [a, pod('gone')]), reading(at0 + 60_000, [later(a, { evictions: 60 }), pod('new', { uptime: 30 })]))!;
    expect(s.pods).to.equal(2);
    expect(s.evictionsPerSecond).to.equal(2);
  });

  it('skips refused polls and pods without a memory limit; none left: no signals', () => {
    expect(signalsOf(undefined, reading(at0, [pod('a', { refusedPoll: true }), pod('b', { limitBytes: 0 })]))).to.equal(undefined);
    expect(signalsOf(undefined, reading(at0, []))).to.equal(undefined);
  });

  it('polls closer than a second give no rates', () => {
    const a = pod('a');
    expect(signalsOf(reading(at0, [a]), reading(at0 + 500, [later(a, { evictions: 1 }, 0)]))).to.not.have.property('evictionsPerSecond');
  });

  describe('countersRestarted', () => {
    const cases: [string, Partial<PodSample>, Partial<PodSample>, number, boolean][] = [
      ['uptime grew with the clock', { uptime: 100 }, { uptime: 160 }, 60, false],
      ['uptime a second short (clock ticks)', { uptime: 100 }, { uptime: 158 }, 60, false],
      ['uptime went down', { uptime: 100 }, { uptime: 30 }, 60, true],
      ['a counter went down', { uptime: 100, evictions: 9 }, { uptime: 160, evictions: 2 }, 60, true],
      ['restarted within a long gap and has run longer since', { uptime: 100 }, { uptime: 2000 }, 3600, true],
      ['no uptime reported at all (counters only)', { uptime: 0 }, { uptime: 0 }, 60, false],
    ];
    for (const [name, before, now, interval, want] of cases) {
      it(name, () => expect(countersRestarted(pod('a', before), pod('a', now), interval)).to.equal(want));
    }
  });
});
