import { expect } from 'chai';
import { listAllPages, pageQuery, type FetchPage, type PageRequest, type RawListPage } from '../src/pagedlist.js';

/** A scripted sequence of answers, one per page request, and the requests made. */
function script(answers: Array<RawListPage | Error>): { fetch: FetchPage; requests: PageRequest[] } {
  const requests: PageRequest[] = [];
  let i = 0;
  return {
    requests,
    fetch: (request) => {
      requests.push(request);
      const answer = answers[i++];
      if (answer === undefined) throw new Error(`unexpected request ${JSON.stringify(request)}`);
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
}

const page = (items: string[], rv: string, next?: string): RawListPage => ({ items: items.map((name) => ({ name })), metadata: { resourceVersion: rv, ...(next !== undefined ? { continue: next } : {}) } });
const gone = (): Error => Object.assign(new Error('Gone'), { code: 410 });
const names = (items: unknown[]): string[] => items.map((i) => (i as { name: string }).name);

describe('runtime/pagedlist', () => {
  describe('listAllPages', () => {
    const cases: Array<{ name: string; answers: Array<RawListPage | Error>; items: string[]; requests: PageRequest[]; restarts: number; rv: string }> = [
      { name: 'one page', answers: [page(['a', 'b'], '10')], items: ['a', 'b'], requests: [{ limit: 2 }], restarts: 0, rv: '10' },
      {
        name: 'three pages, each asked with the previous continue token',
        answers: [page(['a', 'b'], '10', 't1'), page(['c', 'd'], '10', 't2'), page(['e'], '10')],
        items: ['a', 'b', 'c', 'd', 'e'],
        requests: [{ limit: 2 }, { limit: 2, continue: 't1' }, { limit: 2, continue: 't2' }],
        restarts: 0,
        rv: '10',
      },
      { name: 'an empty continue token ends the list', answers: [page(['a'], '7', '')], items: ['a'], requests: [{ limit: 2 }], restarts: 0, rv: '7' },
      {
        name: 'an expired continue token (410) lists again from the first page, keeping nothing of the first attempt',
        answers: [page(['a', 'b'], '10', 't1'), gone(), page(['a', 'b'], '20', 'u1'), page(['c'], '20')],
        items: ['a', 'b', 'c'],
        requests: [{ limit: 2 }, { limit: 2, continue: 't1' }, { limit: 2 }, { limit: 2, continue: 'u1' }],
        restarts: 1,
        rv: '20',
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const { fetch, requests } = script(c.answers);
        const perPage: string[][] = [];
        const list = await listAllPages(fetch, (items) => (perPage.push(names(items)), items), { pageSize: 2 });
        expect(names(list.items)).to.deep.equal(c.items);
        expect(requests).to.deep.equal(c.requests);
        expect(list.restarts).to.equal(c.restarts);
        expect(list.resourceVersion).to.equal(c.rv);
        expect(list.pages).to.equal(requests.length - c.answers.filter((a) => a instanceof Error).length);
        // The transform sees each page on its own, never more than a page at once.
        for (const p of perPage) expect(p.length).to.be.at.most(2);
      });
    }

    it('keeps only what the per-page transform returns', async () => {
      const { fetch } = script([page(['a', 'b'], '1', 't'), page(['c'], '1')]);
      const list = await listAllPages(fetch, (items) => names(items).map((n) => n.toUpperCase()), { pageSize: 2 });
      expect(list.items).to.deep.equal(['A', 'B', 'C']);
    });

    const failures: Array<[string, Array<RawListPage | Error>, RegExp]> = [
      ['410 on the first page (no continue token: not an expired token)', [gone()], /Gone/],
      ['any other error on a later page', [page(['a'], '1', 't'), new Error('connection reset')], /connection reset/],
      ['410 again after the restarts allowed', [page(['a'], '1', 't'), gone(), page(['a'], '2', 'u'), gone()], /Gone/],
    ];
    for (const [name, answers, message] of failures) {
      it(`fails on ${name}`, async () => {
        const { fetch } = script(answers);
        const err = await listAllPages(fetch, (items) => items, { pageSize: 1, maxRestarts: 1 }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(String(err)).to.match(message);
      });
    }

    it('tells of each restart', async () => {
      const { fetch } = script([page(['a'], '1', 't'), gone(), page(['a'], '2')]);
      const told: number[] = [];
      await listAllPages(fetch, (items) => items, { pageSize: 1, onRestart: (_err, pages) => told.push(pages) });
      expect(told).to.deep.equal([1]);
    });
  });

  describe('pageQuery', () => {
    const cases: Array<[PageRequest, string | undefined, string]> = [
      [{ limit: 500 }, undefined, 'limit=500'],
      [{ limit: 500, continue: 'eyJ2Ijo+/=' }, undefined, 'limit=500&continue=eyJ2Ijo%2B%2F%3D'],
      [{ limit: 10 }, 'app.kubernetes.io/managed-by=memcached-operator', 'limit=10&labelSelector=app.kubernetes.io%2Fmanaged-by%3Dmemcached-operator'],
    ];
    for (const [request, selector, expected] of cases) it(`encodes ${expected}`, () => expect(pageQuery(request, selector)).to.equal(expected));
  });
});
