import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ketamaRing, parseServer, pointName, pointsPerServer } from '../../../src/keyspace/ketama.js';
import { repoRoot } from '../../support/cluster.js';

/** Reference vectors from a real pylibmc (libmemcached), made by test/fixtures/ketama/generate.py. */
interface Fixture {
  behaviors: Record<string, unknown>;
  cases: { servers: string[]; vectors: [string, number][] }[];
}

const fixture = JSON.parse(readFileSync(path.join(repoRoot, 'test', 'fixtures', 'ketama', 'pylibmc-vectors.json'), 'utf8')) as Fixture;

describe('keyspace/ketama', () => {
  describe('agrees with pylibmc {"ketama_weighted": True} key for key', () => {
    it('the fixture is the documented behaviour and covers 1, 3, 4 and 5 servers', () => {
      expect(fixture.behaviors).to.deep.equal({ ketama_weighted: true });
      expect(new Set(fixture.cases.map((c) => c.servers.length))).to.include.members([1, 3, 4, 5]);
    });
    for (const { servers, vectors } of fixture.cases) {
      it(`${servers.length} servers: ${servers.join(', ')} (${vectors.length} keys)`, () => {
        const ring = ketamaRing(servers);
        const wrong = vectors.filter(([key, owner]) => ring.ownerOf(key) !== servers[owner]);
        expect(wrong.slice(0, 5), `${wrong.length} keys placed elsewhere than pylibmc placed them`).to.deep.equal([]);
      });
    }
  });

  describe('pointName (libmemcached leaves the default port out)', () => {
    const cases: [string, number, string][] = [
      ['mc-0.mc-servers.ns.svc:11211', 0, 'mc-0.mc-servers.ns.svc-0'],
      ['mc-0.mc-servers.ns.svc:11212', 39, 'mc-0.mc-servers.ns.svc:11212-39'],
      ['10.0.0.7:11211', 3, '10.0.0.7-3'],
    ];
    for (const [server, index, want] of cases) it(`${server} #${index} -> ${want}`, () => expect(pointName(server, index)).to.equal(want));
  });

  describe('bad server lists get clear errors', () => {
    const cases: [string[], RegExp][] = [
      [[], /at least one server/],
      [['mc-0'], /not host:port/],
      [['mc-0:'], /not host:port/],
      [[':11211'], /not host:port/],
      [['mc-0:99999'], /port from 1 to 65535/],
      [['mc-0:11211', 'mc-0:11211'], /listed twice/],
    ];
    for (const [servers, error] of cases) it(JSON.stringify(servers), () => expect(() => ketamaRing(servers)).to.throw(error));
  });

  describe('pointsPerServer (libmemcached works it out in single precision)', () => {
    const cases: [number, number][] = [[1, 160], [3, 160], [5, 160], [24, 160], [25, 156], [26, 160], [50, 156], [100, 156]];
    for (const [servers, want] of cases) it(`${servers} servers: ${want} points each`, () => expect(pointsPerServer(servers)).to.equal(want));
  });

  it('parseServer splits at the last colon', () => {
    expect(parseServer('mc-1.mc-servers.ns.svc:11211')).to.deep.equal({ host: 'mc-1.mc-servers.ns.svc', port: 11211 });
  });
});
