// operator-sdk scorecard on the committed bundle, in the cluster: make
// scorecard runs the test pods with scorecard-test built from the same
// operator-sdk source as the operator-sdk that drives them (a local image
// pushed to the bed's registry). Every test of the basic and olm suites that
// the bundle's scorecard configuration lists must pass.
import { expect } from 'chai';
import { make } from '../support.js';
import { kindCluster, recordResult } from './support.js';
import { registry } from './olm.js';

interface ScorecardList {
  items: { spec: { labels: Record<string, string> }; status: { results: { name: string; state: string; errors?: string[] }[] } }[];
}

describe('kind: operator-sdk scorecard (basic and olm suites) in the cluster', function () {
  this.timeout(900_000);

  it('passes every test', () => {
    kindCluster();
    registry();
    const r = make('scorecard', { SCORECARD_OUTPUT: 'json' });
    expect(r.status, `make scorecard failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
    const list = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as ScorecardList;
    const results = list.items.flatMap((i) => i.status.results.map((res) => ({ suite: i.spec.labels.suite, ...res })));
    expect(new Set(results.map((x) => x.suite))).to.deep.equal(new Set(['basic', 'olm']));
    const failed = results.filter((x) => x.state !== 'pass');
    expect(failed, JSON.stringify(failed)).to.deep.equal([]);
    recordResult('olm.scorecard', { tests: results.length, passed: results.length - failed.length, names: results.map((x) => `${x.suite}/${x.name}`) });
  });
});
