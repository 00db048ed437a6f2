import { expect } from 'chai';
import type { V1Pod } from '@kubernetes/client-node';
import { createLogger, findCondition, type Request } from '@memcached-operator/runtime';
import type { Condition } from '../../../src/api/types.js';
import { sampleOf, statsPortOf, UsagePoller, usageState, withUsageConditions, type PodSample } from '../../../src/memcached/monitoring/usage.js';
import { memcached } from './fixtures.js';

const base: PodSample = {
  pod: 'a', currConnections: 10, maxConnections: 100, rejectedConnections: 0, listenDisabled: 0, evictions: 0, bytes: 0, limitBytes: 64 << 20,
  uptime: 100, getHits: 0, getMisses: 0, cmdGet: 0, cmdSet: 0, cmdTouch: 0,
};

function pod(name: string, ip: string, ready = true): V1Pod {
  return {
    metadata: { name, uid: `uid-${name}`, namespace: 'apps', labels: { 'app.kubernetes.io/name': 'memcached', 'app.kubernetes.io/instance': 'cache' } },
    spec: { containers: [{ name: 'memcached', ports: [{ name: 'memcached', containerPort: 11211 }] }] },
    status: { podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

describe('memcached/usage', () => {
  it('reads the fields it needs from a stats reply; a missing one is 0', () => {
    const stats = new Map([['curr_connections', '5'], ['max_connections', '1024'], ['evictions', '7'], ['limit_maxbytes', '67108864'], ['uptime', '42'], ['get_hits', '9'], ['cmd_get', '12']]);
    expect(sampleOf('p', stats)).to.deep.equal({
      pod: 'p', currConnections: 5, maxConnections: 1024, rejectedConnections: 0, listenDisabled: 0, evictions: 7, bytes: 0, limitBytes: 67108864,
      uptime: 42, getHits: 9, getMisses: 0, cmdGet: 12, cmdSet: 0, cmdTouch: 0,
    });
  });

  const cases: [string, PodSample[], PodSample[], string, string, string, string][] = [
    ['idle', [base], [base], 'False', 'BelowLimits', 'False', 'NoEvictions'],
    ['first look: counters alone say nothing', [{ ...base, evictions: 50, rejectedConnections: 3 }], [], 'False', 'BelowLimits', 'False', 'NoEvictions'],
    ['evictions rose', [{ ...base, evictions: 5 }], [base], 'False', 'BelowLimits', 'True', 'ItemsEvicted'],
    ['memcached restarted (counters went down)', [{ ...base, evictions: 0 }], [{ ...base, evictions: 9 }], 'False', 'BelowLimits', 'False', 'NoEvictions'],
    ['90% of connections in use', [{ ...base, currConnections: 90 }], [base], 'True', 'ConnectionsNearLimit', 'False', 'NoEvictions'],
    ['rejections rose', [{ ...base, rejectedConnections: 1 }], [base], 'True', 'ConnectionsRejected', 'False', 'NoEvictions'],
    ['listener disabled', [{ ...base, listenDisabled: 2 }], [base], 'True', 'ConnectionsRejected', 'False', 'NoEvictions'],
    ['the poll itself refused at the limit', [{ ...base, refusedPoll: true }], [base], 'True', 'ConnectionsRejected', 'False', 'NoEvictions'],
    ['the poll refused on the first look', [{ ...sampleOf('a', new Map()), refusedPoll: true }], [], 'True', 'ConnectionsRejected', 'False', 'NoEvictions'],
  ];
  for (const [name, now, before, sat, satReason, ev, evReason] of cases) {
    it(`usageState: ${name}`, () => {
      const state = usageState(now, new Map(before.map((s) => [s.pod, s])));
      expect([state.saturated.status, state.saturated.reason, state.evicting.status, state.evicting.reason]).to.deep.equal([sat, satReason, ev, evReason]);
    });
  }

  it('words a steady state the same at every poll (no numbers that move), so it writes nothing', () => {
    const a = usageState([{ ...base, evictions: 10 }], new Map([['a', base]]));
    const b = usageState([{ ...base, evictions: 99 }], new Map([['a', { ...base, evictions: 10 }]]));
    expect(b).to.deep.equal(a);
    expect(a.evicting.message).to.include('pods a evict items');
  });

  describe('withUsageConditions', () => {
    const now = new Date('2026-01-01T00:00:10Z');
    const old: Condition = { type: 'Evicting', status: 'False', reason: 'NoEvictions', message: 'x', lastTransitionTime: '2026-01-01T00:00:00Z' };
    it('carries the last conditions over while nothing is known', () => {
      expect(withUsageConditions([], [old], undefined, now)).to.deep.equal([old]);
      expect(withUsageConditions([], undefined, undefined, now)).to.deep.equal([]);
    });
    it('keeps lastTransitionTime while the status holds; moves it on a change', () => {
      const steady = usageState([base], new Map([['a', base]]));
      expect(findCondition(withUsageConditions([], [old], steady, now), 'Evicting')?.lastTransitionTime).to.equal(old.lastTransitionTime);
      const evicting = usageState([{ ...base, evictions: 1 }], new Map([['a', base]]));
      expect(findCondition(withUsageConditions([], [old], evicting, now), 'Evicting')).to.include({ status: 'True', lastTransitionTime: '2026-01-01T00:00:10Z' });
    });
  });

  it('statsPortOf prefers the plaintext listener', () => {
    const p = pod('x', '10.0.0.1');
    expect(statsPortOf(p)).to.equal(11211);
    p.spec!.containers[0].ports!.push({ name: 'plaintext', containerPort: 11212 });
    expect(statsPortOf(p)).to.equal(11212);
  });

  describe('UsagePoller', () => {
    it('enqueues a Memcached only when its state changes, reads only Ready pods, and bounds concurrency', async () => {
      const mc = memcached();
      const pods = [pod('a', '10.0.0.1'), pod('b', '10.0.0.2'), pod('c', '10.0.0.3', false)];
      const evictions: Record<string, number> = { '10.0.0.1': 0, '10.0.0.2': 0 };
      const hosts: string[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      const changes: Request[] = [];
      const poller = new UsagePoller({
        memcacheds: { list: () => [mc] },
        pods: { list: () => pods },
        fetch: async (t) => {
          hosts.push(t.host);
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          inFlight--;
          return new Map([['max_connections', '100'], ['curr_connections', '1'], ['evictions', String(evictions[t.host])]]);
        },
        onChange: (req) => changes.push(req),
        intervalMs: 60_000,
        maxConcurrent: 1,
        logger: createLogger('error'),
      });
      await poller.poll();
      expect(hosts.sort()).to.deep.equal(['10.0.0.1', '10.0.0.2']);
      expect(maxInFlight).to.equal(1);
      expect(changes).to.deep.equal([{ namespace: 'apps', name: 'cache' }]);
      expect(poller.stateOf(mc)?.evicting.status).to.equal('False');
      await poller.poll();
      expect(changes, 'idle: no enqueue').to.have.length(1);
      evictions['10.0.0.2'] = 40;
      await poller.poll();
      expect(changes).to.have.length(2);
      expect(poller.stateOf(mc)?.evicting).to.include({ status: 'True', reason: 'ItemsEvicted' });
      await poller.poll();
      expect(changes, 'evictions stopped').to.have.length(3);
      expect(poller.stateOf(mc)?.evicting.status).to.equal('False');
    });

    it('reads a poll that memcached refuses at its connection limit as Saturated, and compares the next read with the last real one', async () => {
      const changes: Request[] = [];
      let reply: Map<string, string> | Error = new Map([['curr_connections', '3'], ['max_connections', '16'], ['rejected_connections', '0']]);
      const poller = new UsagePoller({
        memcacheds: { list: () => [memcached()] },
        pods: { list: () => [pod('a', '10.0.0.1')] },
        fetch: () => (reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply)),
        onChange: (req) => changes.push(req),
        intervalMs: 60_000,
        logger: createLogger('error'),
      });
      const saturated = () => [poller.stateOf(memcached())?.saturated.status, poller.stateOf(memcached())?.saturated.reason];
      await poller.poll();
      expect(saturated()).to.deep.equal(['False', 'BelowLimits']);
      reply = new Error('memcached answered stats with ERROR Too many open connections');
      await poller.poll();
      expect(saturated(), 'refused at the limit').to.deep.equal(['True', 'ConnectionsRejected']);
      await poller.poll();
      expect(changes, 'still refused: the same state, no enqueue').to.have.length(2);
      reply = new Map([['curr_connections', '3'], ['max_connections', '16'], ['rejected_connections', '7']]);
      await poller.poll();
      expect(saturated(), 'the rejections rose since the last real read').to.deep.equal(['True', 'ConnectionsRejected']);
      await poller.poll();
      expect(saturated(), 'no more rejections').to.deep.equal(['False', 'BelowLimits']);
    });

    it('reports nothing for a Memcached whose pods cannot be read', async () => {
      const changes: Request[] = [];
      const poller = new UsagePoller({
        memcacheds: { list: () => [memcached()] },
        pods: { list: () => [pod('a', '10.0.0.1')] },
        fetch: () => Promise.reject(new Error('connection refused')),
        onChange: (req) => changes.push(req),
        intervalMs: 60_000,
        logger: createLogger('error'),
      });
      await poller.poll();
      expect(changes).to.deep.equal([]);
      expect(poller.stateOf(memcached())).to.equal(undefined);
    });
  });
});
