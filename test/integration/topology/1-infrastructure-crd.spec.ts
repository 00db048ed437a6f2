// Detection against the real OpenShift Infrastructure CRD (installed by
// cluster.sh from the pinned openshift/api module): every value its schema
// accepts is one detection reads without a warning, every value detection
// would treat as unknown is one the schema rejects, the schema's defaulting
// matches "empty counts as HighlyAvailable", and a running operator follows
// each accepted controlPlaneTopology.
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createNamespace, deleteNamespace, eventually, kubectl } from '../../support/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { topologyFromInfrastructure } from '../../../src/topology/detect.js';
import { Cluster, expectHealthy, INFRASTRUCTURE, useCluster } from './support.js';

interface JsonSchema {
  type?: string;
  enum?: string[];
  default?: unknown;
  properties?: Record<string, JsonSchema>;
}

describe('topology: the real OpenShift Infrastructure CRD', function () {
  let kc: k8s.KubeConfig;
  let cluster: Cluster;
  let status: Record<string, JsonSchema>;

  before(function () {
    kc = useCluster('sno');
    cluster = new Cluster(kc);
    const crd = JSON.parse(kubectl(['get', 'crd', 'infrastructures.config.openshift.io', '-o', 'json'])) as {
      metadata: { annotations?: Record<string, string> };
      spec: { group: string; scope: string; versions: Array<{ name: string; served: boolean; subresources?: { status?: object }; schema: { openAPIV3Schema: JsonSchema } }> };
    };
    // It is OpenShift's own CRD, not a look-alike.
    expect(crd.metadata.annotations?.['api.openshift.io/merged-by-featuregates']).to.equal('true');
    expect(crd.spec.group).to.equal('config.openshift.io');
    expect(crd.spec.scope).to.equal('Cluster');
    const v1 = crd.spec.versions.find((v) => v.name === 'v1' && v.served)!;
    expect(v1.subresources?.status, 'status subresource').to.not.equal(undefined);
    status = v1.schema.openAPIV3Schema.properties!.status.properties!;
  });

  after(async function () {
    // Leave the profile's topology as cluster.sh set it.
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'SingleReplica', infrastructureTopology: 'SingleReplica' });
  });

  it('declares exactly the values detection knows, each defaulting to HighlyAvailable', function () {
    expect(status.controlPlaneTopology.enum).to.have.members(['HighlyAvailable', 'HighlyAvailableArbiter', 'SingleReplica', 'DualReplica', 'External']);
    expect(status.infrastructureTopology.enum).to.have.members(['HighlyAvailable', 'SingleReplica']);
    expect(status.controlPlaneTopology.default).to.equal('HighlyAvailable');
    expect(status.infrastructureTopology.default).to.equal('HighlyAvailable');
  });

  it('accepts every enum value, and detection reads each one back from the API without a warning', async function () {
    for (const cp of status.controlPlaneTopology.enum!) {
      for (const infra of status.infrastructureTopology.enum!) {
        await cluster.patchInfrastructureStatus({ controlPlaneTopology: cp, infrastructureTopology: infra });
        const read = topologyFromInfrastructure(await cluster.infrastructure());
        expect(read, `${cp}/${infra}`).to.deep.equal({ controlPlane: cp, infrastructure: infra, warnings: [] });
      }
    }
  });

  it('rejects the values detection would treat as unknown (so bad input needs a different schema)', async function () {
    const rejected: Array<Record<string, unknown>> = [
      { controlPlaneTopology: 'Banana' },
      { controlPlaneTopology: '' },
      { controlPlaneTopology: 'highlyavailable' },
      { infrastructureTopology: 'External' },
      { infrastructureTopology: 'DualReplica' },
      { infrastructureTopology: 3 },
    ];
    for (const bad of rejected) {
      let error: unknown;
      try {
        await cluster.patchInfrastructureStatus(bad);
      } catch (err) {
        error = err;
      }
      expect(error, JSON.stringify(bad)).to.be.instanceOf(k8s.ApiException);
      expect((error as k8s.ApiException<unknown>).code, JSON.stringify(bad)).to.equal(422);
    }
  });

  it('defaults a removed field to HighlyAvailable, which detection reads without a warning', async function () {
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'SingleReplica', infrastructureTopology: 'SingleReplica' });
    // JSON merge patch: null removes the field; the schema default fills it in again.
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: null, infrastructureTopology: null });
    const obj = await cluster.infrastructure();
    expect(obj?.status).to.include({ controlPlaneTopology: 'HighlyAvailable', infrastructureTopology: 'HighlyAvailable' });
    expect(topologyFromInfrastructure(obj).warnings).to.deep.equal([]);
  });

  it('lets an object exist without any status (detection warns and assumes HighlyAvailable)', async function () {
    // A second Infrastructure object: the status subresource drops a status sent on create.
    const name = 'status-less';
    await cluster.custom.createClusterCustomObject({
      ...INFRASTRUCTURE,
      body: { apiVersion: 'config.openshift.io/v1', kind: 'Infrastructure', metadata: { name }, spec: {}, status: { controlPlaneTopology: 'SingleReplica' } },
    });
    try {
      const obj = (await cluster.custom.getClusterCustomObject({ ...INFRASTRUCTURE, name })) as Record<string, unknown>;
      expect(obj.status).to.equal(undefined);
      const read = topologyFromInfrastructure(obj);
      expect(read).to.include({ controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable' });
      expect(read.warnings.join()).to.match(/"status-less" has no status yet/);
    } finally {
      await cluster.custom.deleteClusterCustomObject({ ...INFRASTRUCTURE, name });
    }
  });

  describe('with the operator running', function () {
    let op: OperatorProcess | undefined;
    let ns: string;

    before(async function () {
      await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'SingleReplica', infrastructureTopology: 'SingleReplica' });
      op = await startOperator();
      ns = await createNamespace(kc, 'topo-crd');
      await cluster.createMemcached(ns, 'cache', {});
    });

    after(async function () {
      if (ns) await deleteNamespace(kc, ns);
      await op?.stop();
    });

    // controlPlaneTopology refines the HighlyAvailable rules (docs/topology.md);
    // sno has one schedulable node, so replicas are 2 (DualReplica's default, or the HA minimum).
    const cases = [
      { controlPlaneTopology: 'HighlyAvailable', profile: 'HighlyAvailable' },
      { controlPlaneTopology: 'HighlyAvailableArbiter', profile: 'HighlyAvailableArbiter' },
      { controlPlaneTopology: 'SingleReplica', profile: 'HighlyAvailable' },
      { controlPlaneTopology: 'DualReplica', profile: 'DualReplica' },
      { controlPlaneTopology: 'External', profile: 'External' },
    ];
    for (const c of cases) {
      it(`follows controlPlaneTopology ${c.controlPlaneTopology} on a HighlyAvailable infrastructure: profile ${c.profile}`, async function () {
        await cluster.patchInfrastructureStatus({ controlPlaneTopology: c.controlPlaneTopology, infrastructureTopology: 'HighlyAvailable' });
        await eventually(`profile ${c.profile}`, async () => {
          const s = await cluster.snapshot(ns, 'cache');
          expect(s.mc?.status?.topology).to.deep.equal({
            controlPlane: c.controlPlaneTopology,
            infrastructure: 'HighlyAvailable',
            source: 'Infrastructure',
            schedulableNodes: 1,
            profile: c.profile,
          });
          expect(s.replicas).to.equal(2);
          expect(s.antiAffinity).to.equal('Preferred');
          return s;
        });
        await expectHealthy(op!);
      });
    }
  });
});
