// Finding the Memcached examples (the cluster judges them in
// test/integration/docs/examples.spec.ts).
import { expect } from 'chai';
import { allExamples, asMemcached, sizingTableExamples, yamlExamples } from './examples.js';

describe('docs: the Memcached examples', () => {
  it('finds the examples of the pages, the CSV, the samples and the sizing table', () => {
    const where = allExamples().flatMap((e) => e.where.map((w) => w.split(':')[0]));
    expect(where).to.include.members(['docs/api.md', 'README.md', 'docs/security.md', 'docs/topology.md', 'config/samples/cache_v1alpha1_memcached.yaml']);
    expect(where.some((w) => w.includes('clusterserviceversion'))).to.equal(true);
  });

  it('takes whole Memcacheds and spec fragments, drops their namespace, and leaves other kinds', () => {
    expect(asMemcached({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'a', namespace: 'x' }, spec: {} }, 'n')).to.deep.equal({
      apiVersion: 'cache.example.com/v1alpha1',
      kind: 'Memcached',
      metadata: { name: 'a' },
      spec: {},
    });
    expect(asMemcached({ spec: { size: 2 } }, 'n')).to.deep.equal({ apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name: 'n' }, spec: { size: 2 } });
    expect(asMemcached({ kind: 'Namespace', spec: {} }, 'n')).to.equal(undefined);
    expect(asMemcached({ spec: {}, ports: [] }, 'n')).to.equal(undefined);
  });

  it('reports a Memcached block that is not YAML, and ignores other blocks', () => {
    const page = { file: 'p.md', text: '```yaml\nkind: Memcached\n  bad: [\n```\n\n```yaml\nkind: Pod\n```\n\n```sh\nspec:\n```' };
    const found = yamlExamples(page);
    expect(found).to.have.length(1);
    expect(found[0].where).to.deep.equal(['p.md:1']);
    expect(found[0].error).to.be.a('string');
  });

  it('reads the sizing table\'s Spec cells, one example per distinct spec', () => {
    const text = [
      '<!-- topology-sizing-table -->',
      '| Topology | Spec |',
      '| --- | --- |',
      '| a | - |',
      '| b | `highAvailability: Disabled, size: 3` |',
      '| c | - |',
      '<!-- /topology-sizing-table -->',
    ].join('\n');
    const found = sizingTableExamples({ file: 't.md', text });
    expect(found.map((e) => [e.where, (e.object as { spec: unknown }).spec])).to.deep.equal([
      [['t.md:4', 't.md:6'], {}],
      [['t.md:5'], { highAvailability: 'Disabled', size: 3 }],
    ]);
  });
});
