// Every Memcached example in the documentation is one the apiserver accepts:
// each is applied to the local cluster with --dry-run=server, so the CRD's
// schema, defaults and CEL rules judge it as they would a user's copy. The
// examples are found by test/unit/docs/examples.ts.
import { expect } from 'chai';
import * as k8s from '@kubernetes/client-node';
import { createNamespace, deleteNamespace, ensureCluster, kubectl } from '../../support/cluster.js';
import { installCrd } from '../../support/memcached.js';
import { allExamples } from '../../unit/docs/examples.js';

/** kubectl's message for a refused apply, without its usage noise. */
function refusal(err: unknown): string {
  const stderr = (err as { stderr?: string }).stderr;
  return (stderr ?? (err as Error).message).trim();
}

describe('the documentation\'s Memcached examples against the CRD', function () {
  this.timeout(120_000);
  const examples = allExamples();
  let kc: k8s.KubeConfig;
  let namespace = '';

  before(async () => {
    kc = ensureCluster('ha');
    installCrd();
    namespace = await createNamespace(kc, 'docs-examples');
  });

  after(async () => {
    if (namespace) await deleteNamespace(kc, namespace);
  });

  it('finds examples to check', () => {
    expect(examples.length).to.be.at.least(8);
  });

  for (const example of examples) {
    it(`accepts ${example.where.join(', ')}`, () => {
      if (example.error !== undefined) expect.fail(`${example.where.join(', ')} cannot be read: ${example.error}`);
      let rejected: string | undefined;
      try {
        kubectl(['apply', '--dry-run=server', '-n', namespace, '-f', '-'], JSON.stringify(example.object));
      } catch (err) {
        rejected = refusal(err);
      }
      if (rejected !== undefined) expect.fail(`the apiserver rejects the example at ${example.where.join(', ')}: ${rejected}`);
    });
  }
});
