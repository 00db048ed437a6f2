import { expect } from 'chai';
import { INITIAL_EVENTS_END, isInitialEventsEnd, reopenDelayMs, watchListUnsupported, watchQuery } from '../src/watchlist.js';

describe('runtime/watchlist', () => {
  describe('watchQuery', () => {
    const cases: Array<[string, string | undefined, string | undefined, Record<string, string>]> = [
      ['streams every object first when there is no resource version yet', undefined, undefined, { allowWatchBookmarks: 'true', sendInitialEvents: 'true', resourceVersionMatch: 'NotOlderThan', resourceVersion: '' }],
      ['keeps the label selector', undefined, 'app=x', { allowWatchBookmarks: 'true', labelSelector: 'app=x', sendInitialEvents: 'true', resourceVersionMatch: 'NotOlderThan', resourceVersion: '' }],
      ['resumes an ordinary watch at a resource version', '42', 'app=x', { allowWatchBookmarks: 'true', labelSelector: 'app=x', resourceVersion: '42' }],
    ];
    for (const [name, rv, selector, expected] of cases) it(name, () => expect(watchQuery(rv, selector)).to.deep.equal(expected));
  });

  describe('isInitialEventsEnd', () => {
    const end = { metadata: { resourceVersion: '7', annotations: { [INITIAL_EVENTS_END]: 'true' } } };
    const cases: Array<[string, string, object | undefined, boolean]> = [
      ['the annotated bookmark', 'BOOKMARK', end, true],
      ['a plain bookmark', 'BOOKMARK', { metadata: { resourceVersion: '8' } }, false],
      ['the annotation set to something else', 'BOOKMARK', { metadata: { annotations: { [INITIAL_EVENTS_END]: 'false' } } }, false],
      ['an object carrying the annotation in an ADDED event', 'ADDED', end, false],
      ['no object', 'BOOKMARK', undefined, false],
    ];
    for (const [name, type, obj, expected] of cases) it(`${expected ? 'is' : 'is not'} ${name}`, () => expect(isInitialEventsEnd(type, obj)).to.equal(expected));
  });

  describe('watchListUnsupported', () => {
    const cases: Array<[unknown, boolean]> = [
      [{ statusCode: 422 }, true],
      [{ statusCode: 400 }, true],
      [{ code: 422 }, true],
      [{ statusCode: 403 }, false],
      [{ statusCode: 410 }, false],
      [{ statusCode: 500 }, false],
      [new Error('connect ECONNREFUSED'), false],
      [null, false],
    ];
    for (const [err, expected] of cases) it(`${JSON.stringify(err) ?? String(err)} → ${expected}`, () => expect(watchListUnsupported(err)).to.equal(expected));
  });

  describe('reopenDelayMs', () => {
    const cases: Array<[number, boolean, number]> = [
      [0, true, 0],
      [8_000, true, 0],
      [0, false, 1_000],
      [1_000, false, 2_000],
      [16_000, false, 30_000],
      [30_000, false, 30_000],
    ];
    for (const [previous, delivered, expected] of cases) {
      it(`after ${previous} ms, ${delivered ? 'having' : 'not having'} delivered: ${expected} ms`, () => expect(reopenDelayMs(previous, delivered)).to.equal(expected));
    }
  });
});
