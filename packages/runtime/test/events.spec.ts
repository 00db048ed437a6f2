import { expect } from 'chai';
import {
  DEFAULT_SERIES_POLICY,
  EventCorrelator,
  eventKey,
  microTime,
  planSeriesWrite,
  seriesPatch,
  type EventSeries,
  type SeriesPolicy,
  type SeriesWrite,
} from '../src/events.js';

const POLICY: SeriesPolicy = { windowMs: 600_000, patchIntervalMs: 60_000, maxSeries: 3 };
const place = (name = 'mc.0001') => (): { name: string; namespace: string } => ({ name, namespace: 'ns' });

function series(over: Partial<EventSeries>): EventSeries {
  return { key: 'k', name: 'mc.0001', namespace: 'ns', firstAt: 0, count: 1, lastObservedAt: 0, sentCount: 0, lastWriteAt: 0, pending: false, ...over };
}

describe('event series', () => {
  describe('planSeriesWrite', () => {
    const cases: Array<[string, Partial<EventSeries>, number, SeriesWrite]> = [
      ['a new series creates its Event', { count: 1, sentCount: 0 }, 0, { kind: 'create' }],
      ['repeats before the create is sent still create (with the series)', { count: 3, sentCount: 0 }, 0, { kind: 'create' }],
      ['nothing new since the last write: nothing to send', { count: 2, sentCount: 2, lastWriteAt: 0 }, 120_000, { kind: 'none' }],
      ['a repeat after the patch interval is sent at once', { count: 2, sentCount: 1, lastWriteAt: 0 }, 60_000, { kind: 'patch' }],
      ['a repeat within the interval waits for its end', { count: 2, sentCount: 1, lastWriteAt: 10_000 }, 30_000, { kind: 'wait', delayMs: 40_000 }],
      ['many repeats within the interval: still one wait', { count: 40, sentCount: 1, lastWriteAt: 10_000 }, 69_999, { kind: 'wait', delayMs: 1 }],
      ['a write on its way or scheduled: the next waits for it', { count: 5, sentCount: 1, pending: true }, 999_999, { kind: 'none' }],
      ['a pending create is not created twice', { count: 1, sentCount: 0, pending: true }, 0, { kind: 'none' }],
    ];
    for (const [name, state, now, expected] of cases) {
      it(name, () => expect(planSeriesWrite(series(state), now, POLICY)).to.deep.equal(expected));
    }
  });

  describe('EventCorrelator', () => {
    it('counts repeats within the window on one series, and starts a new one after it', () => {
      const c = new EventCorrelator(POLICY);
      const first = c.observe('k', 0, place('a'));
      expect(first.started).to.equal(true);
      expect(first.series).to.include({ name: 'a', namespace: 'ns', count: 1, firstAt: 0, sentCount: 0 });
      const again = c.observe('k', 599_999, place('b'));
      expect(again.started).to.equal(false);
      expect(again.series).to.equal(first.series);
      expect(again.series).to.include({ name: 'a', count: 2, lastObservedAt: 599_999, firstAt: 0 });
      // The window runs from the last occurrence, not the first.
      expect(c.observe('k', 1_100_000, place('c')).series.count).to.equal(3);
      const later = c.observe('k', 1_700_000, place('d'));
      expect(later.started).to.equal(true);
      expect(later.series).to.include({ name: 'd', count: 1, firstAt: 1_700_000 });
    });

    it('keeps apart Events that differ in any part of their key', () => {
      const c = new EventCorrelator(POLICY);
      for (const key of ['k1', 'k2']) expect(c.observe(key, 0, place(key)).started).to.equal(true);
      expect(c.size).to.equal(2);
    });

    it('forgets the least recently observed series beyond maxSeries', () => {
      const c = new EventCorrelator(POLICY);
      for (const [i, key] of ['a', 'b', 'c'].entries()) c.observe(key, i, place(key));
      c.observe('a', 10, place()); // a is now the most recent
      c.observe('d', 11, place('d')); // evicts b, the least recent
      expect(c.size).to.equal(3);
      expect(c.observe('a', 12, place()).started).to.equal(false);
      expect(c.observe('c', 13, place()).started).to.equal(false);
      expect(c.observe('b', 14, place()).started, 'b was evicted').to.equal(true);
    });

    it('stays bounded under many distinct Events', () => {
      const c = new EventCorrelator({ ...DEFAULT_SERIES_POLICY });
      for (let i = 0; i < 10_000; i++) c.observe(`k${i}`, i, place());
      expect(c.size).to.equal(DEFAULT_SERIES_POLICY.maxSeries);
    });

    it('keeps nothing when the window is 0: every Event is its own', () => {
      const c = new EventCorrelator({ ...POLICY, windowMs: 0 });
      expect(c.observe('k', 0, place()).started).to.equal(true);
      expect(c.observe('k', 1, place()).started).to.equal(true);
      expect(c.size).to.equal(0);
    });

    it('forgets a series whose Event could not be created, and only that one', () => {
      const c = new EventCorrelator(POLICY);
      const { series: failed } = c.observe('k', 0, place('a'));
      c.forget(failed);
      const { series: next, started } = c.observe('k', 1, place('b'));
      expect(started).to.equal(true);
      c.forget(failed); // stale: the live series stays
      expect(c.observe('k', 2, place('c')).series).to.equal(next);
    });
  });

  describe('eventKey', () => {
    const mc = { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'a', namespace: 'ns', uid: 'u1' } };
    const base = eventKey(mc, 'Warning', 'Degraded', 'Reconcile', 'range is full');
    const cases: Array<[string, string]> = [
      ['another object', eventKey({ ...mc, metadata: { ...mc.metadata, uid: 'u2' } }, 'Warning', 'Degraded', 'Reconcile', 'range is full')],
      ['another type', eventKey(mc, 'Normal', 'Degraded', 'Reconcile', 'range is full')],
      ['another reason', eventKey(mc, 'Warning', 'Failed', 'Reconcile', 'range is full')],
      ['another action', eventKey(mc, 'Warning', 'Degraded', 'Apply', 'range is full')],
      ['another note', eventKey(mc, 'Warning', 'Degraded', 'Reconcile', 'quota exceeded')],
      ['a separator inside a part', eventKey(mc, 'Warning', 'Degraded|Reconcile', '', 'range is full')],
    ];
    for (const [what, other] of cases) it(`differs for ${what}`, () => expect(other).to.not.equal(base));
    it('is the same for the same Event', () => expect(eventKey(mc, 'Warning', 'Degraded', 'Reconcile', 'range is full')).to.equal(base));
    it('falls back to kind, namespace and name without a uid', () => {
      const a = eventKey({ kind: 'Lease', metadata: { name: 'x', namespace: 'n1' } }, 'Normal', 'R', 'A', 'n');
      const b = eventKey({ kind: 'Lease', metadata: { name: 'x', namespace: 'n2' } }, 'Normal', 'R', 'A', 'n');
      expect(a).to.not.equal(b);
    });
  });

  describe('the series patch', () => {
    it('writes count and lastObservedTime as a MicroTime (six fractional digits)', () => {
      expect(seriesPatch(7, Date.parse('2026-11-25T10:00:01.234Z'))).to.deep.equal({ series: { count: 7, lastObservedTime: '2026-11-25T10:00:01.234000Z' } });
      expect(microTime(Date.parse('2026-01-02T03:04:05.000Z'))).to.equal('2026-01-02T03:04:05.000000Z');
    });
  });
});
