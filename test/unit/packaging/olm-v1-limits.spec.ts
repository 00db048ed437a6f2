// OLM v1's limits for registry+v1 bundles (hack/olm-v1-limits.js, run by make
// bundle-validate): a table of bundles inside and outside them, and the
// committed bundle itself.
import { expect } from 'chai';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../support/cluster.js';

interface BundleParts {
  annotations?: Record<string, string>;
  csv?: unknown;
  dependencies?: unknown[];
  properties?: unknown[];
}
interface Limits {
  olmV1Problems(parts: BundleParts): string[];
  readBundle(dir: string): BundleParts;
}

const limits = (): Promise<Limits> => import(pathToFileURL(path.join(repoRoot, 'hack', 'olm-v1-limits.js')).href) as Promise<Limits>;

const REGISTRY_V1 = { 'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1' };
const csv = (spec: Record<string, unknown> = {}) => ({
  spec: {
    installModes: [
      { type: 'OwnNamespace', supported: true },
      { type: 'AllNamespaces', supported: true },
    ],
    ...spec,
  },
});

describe('OLM v1 limits for registry+v1 bundles', () => {
  const cases: { name: string; parts: BundleParts; problem?: RegExp }[] = [
    { name: 'AllNamespaces, no dependencies', parts: { annotations: REGISTRY_V1, csv: csv() } },
    { name: 'webhooks are fine', parts: { annotations: REGISTRY_V1, csv: csv({ webhookdefinitions: [{ type: 'ValidatingAdmissionWebhook' }] }) } },
    { name: 'not registry+v1', parts: { annotations: { 'operators.operatorframework.io.bundle.mediatype.v1': 'plain+v0' }, csv: csv() }, problem: /registry\+v1 only/ },
    { name: 'no CSV', parts: { annotations: REGISTRY_V1 }, problem: /no ClusterServiceVersion/ },
    {
      name: 'AllNamespaces unsupported',
      parts: { annotations: REGISTRY_V1, csv: csv({ installModes: [{ type: 'OwnNamespace', supported: true }, { type: 'AllNamespaces', supported: false }] }) },
      problem: /AllNamespaces/,
    },
    { name: 'a package dependency', parts: { annotations: REGISTRY_V1, csv: csv(), dependencies: [{ type: 'olm.package', value: { packageName: 'x', version: '>=1' } }] }, problem: /olm.package dependency/ },
    { name: 'a constraint property', parts: { annotations: REGISTRY_V1, csv: csv(), properties: [{ type: 'olm.constraint', value: {} }] }, problem: /olm.constraint/ },
    { name: 'a plain olm.maxOpenShiftVersion property is fine', parts: { annotations: REGISTRY_V1, csv: csv(), properties: [{ type: 'olm.maxOpenShiftVersion', value: '4.20' }] } },
    { name: 'a required CRD', parts: { annotations: REGISTRY_V1, csv: csv({ customresourcedefinitions: { required: [{ name: 'x.example.com' }] } }) }, problem: /requires CRDs/ },
    { name: 'an owned APIService', parts: { annotations: REGISTRY_V1, csv: csv({ apiservicedefinitions: { owned: [{ name: 'v1.x' }] } }) }, problem: /owns APIServices/ },
  ];
  for (const c of cases) {
    it(`${c.problem ? 'rejects' : 'accepts'}: ${c.name}`, async () => {
      const problems = (await limits()).olmV1Problems(c.parts);
      if (c.problem) {
        expect(problems).to.have.length(1);
        expect(problems[0]).to.match(c.problem);
      } else {
        expect(problems).to.deep.equal([]);
      }
    });
  }

  it('the committed bundle stays inside them', async () => {
    const l = await limits();
    expect(l.olmV1Problems(l.readBundle(path.join(repoRoot, 'bundle')))).to.deep.equal([]);
  });
});
