// Bad input on a single-node (sno) cluster, where every sane default is
// visible: reading the Infrastructure object gives SingleReplica (1 replica),
// an unreadable or empty value counts as HighlyAvailable (2 replicas, as
// OpenShift's operators assume), and without an object to read the operator
// counts the one schedulable node (SingleReplica, source Nodes). Each case
// must give that default, a warning log line, a TopologyDetected=False
// condition, and never a crash (the process runs on, /healthz answers 200).
//
// The real CRD's enums reject unexpected values (see 1-infrastructure-crd),
// so to get them in, this suite replaces the CRD's status schema with a
// permissive one (x-kubernetes-preserve-unknown-fields, no type), as an
// older or hand-edited CRD could be. The suite starts from a fresh cluster
// and removes it at the end, so nothing else sees the modified CRD.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { clusterStateDir, createNamespace, eventually, kubectl, kubeconfigPath, repoRoot } from '../../support/cluster.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';
import { Cluster, condition, errorLines, expectHealthy, freshCluster, INFRASTRUCTURE, logLines, removeCluster, topologyWarnings } from './support.js';

const SINGLE = { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica' };
const HA = { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable' };

describe('topology: bad input gives a sane default, a log line and a condition, never a crash', function () {
  let kc: k8s.KubeConfig;
  let cluster: Cluster;
  let op: OperatorProcess | undefined;
  let ns: string;

  /** Waits for the Memcached "cache" to be sized for the topology, and returns its TopologyDetected condition. */
  async function expectSized(topology: Record<string, unknown>, replicas: number, reason: RegExp | undefined) {
    const s = await eventually(
      `Memcached sized for ${JSON.stringify(topology)}`,
      async () => {
        const s = await cluster.snapshot(ns, 'cache');
        expect(s.mc?.status?.topology).to.deep.include({ ...topology, schedulableNodes: 1 });
        expect(s.replicas, 'replicas').to.equal(replicas);
        expect(s.antiAffinity).to.equal(replicas > 1 ? 'Preferred' : 'None');
        expect(s.pdb !== undefined, 'PDB').to.equal(replicas > 1);
        const detected = condition(s.mc, 'TopologyDetected');
        if (reason === undefined) expect(detected, 'TopologyDetected').to.equal(undefined);
        else {
          expect(detected).to.include({ status: 'False', reason: 'TopologyAssumed' });
          expect(detected?.message).to.match(reason);
        }
        return s;
      },
      { timeoutMs: 30_000 },
    );
    await expectHealthy(op!);
    return s;
  }

  async function expectWarning(pattern: RegExp): Promise<void> {
    await eventually(`a topology warning log line matching ${pattern}`, () => (topologyWarnings(op!, pattern).length > 0 ? true : undefined), {
      timeoutMs: 10_000,
    });
  }

  async function recreateInfrastructure(): Promise<void> {
    await cluster.custom.deleteClusterCustomObject(INFRASTRUCTURE).catch(() => undefined);
    await eventually('the old object gone', async () => ((await cluster.infrastructure()) === undefined ? true : undefined));
    await cluster.custom.createClusterCustomObject({
      ...INFRASTRUCTURE,
      body: { apiVersion: 'config.openshift.io/v1', kind: 'Infrastructure', metadata: { name: 'cluster' }, spec: { platformSpec: { type: 'None' } } },
    });
  }

  before(async function () {
    kc = freshCluster('sno');
    cluster = new Cluster(kc);
    op = await startOperator();
    ns = await createNamespace(kc, 'topo-bad');
    await cluster.createMemcached(ns, 'cache', {});
    await expectSized({ ...SINGLE, source: 'Infrastructure', profile: 'SingleReplica' }, 1, undefined);
  });

  after(async function () {
    await op?.stop();
    // The CRD was modified: no later suite may reuse this cluster.
    removeCluster();
  });

  it('the CRD present but the object absent: counts nodes (SingleReplica on one node)', async function () {
    await cluster.custom.deleteClusterCustomObject(INFRASTRUCTURE);
    await expectSized({ ...SINGLE, source: 'Nodes', profile: 'SingleReplica' }, 1, /the Infrastructure API exists but the object "cluster" does not; sizing by schedulable nodes/);
    await expectWarning(/the object "cluster" does not;/);
  });

  it('an object with no status: HighlyAvailable', async function () {
    await recreateInfrastructure();
    const s = await expectSized({ ...HA, source: 'Infrastructure', profile: 'HighlyAvailable' }, 2, /Infrastructure "cluster" has no status yet; treating the cluster as HighlyAvailable/);
    expect(condition(s.mc, 'HighAvailability')).to.include({ status: 'False', reason: 'NotEnoughNodes' });
    await expectWarning(/has no status yet/);
  });

  it('back to a good status: the condition goes away and the warning is cleared in the log', async function () {
    await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'SingleReplica', infrastructureTopology: 'SingleReplica' });
    await expectSized({ ...SINGLE, source: 'Infrastructure', profile: 'SingleReplica' }, 1, undefined);
    await eventually('the all-clear log line', () => logLines(op!, 'cluster topology read without problems again')[0], { timeoutMs: 10_000 });
  });

  describe('with a permissive status schema in the CRD', function () {
    before(async function () {
      kubectl([
        'patch',
        'crd',
        'infrastructures.config.openshift.io',
        '--type=json',
        '-p',
        JSON.stringify([
          { op: 'replace', path: '/spec/versions/0/schema/openAPIV3Schema/properties/status', value: { 'x-kubernetes-preserve-unknown-fields': true } },
        ]),
      ]);
      // The apiserver serves the new schema shortly after the update.
      await eventually(
        'the permissive schema to be served',
        async () => {
          await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'Banana', infrastructureTopology: 'SingleReplica' });
          return true;
        },
        { timeoutMs: 30_000 },
      );
    });

    it('an unknown controlPlaneTopology: HighlyAvailable control plane; infrastructureTopology still decides', async function () {
      // Set in before(): Banana / SingleReplica.
      await expectSized({ ...SINGLE, controlPlane: 'HighlyAvailable', source: 'Infrastructure', profile: 'SingleReplica' }, 1, /status\.controlPlaneTopology "Banana" is not a known value; treating it as HighlyAvailable/);
      await expectWarning(/"Banana" is not a known value/);
    });

    it('unknown and mistyped values in both fields: HighlyAvailable', async function () {
      await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'External', infrastructureTopology: 7 });
      await expectSized({ ...HA, controlPlane: 'External', source: 'Infrastructure', profile: 'External' }, 2, /status\.infrastructureTopology is a number, not a string/);
      await cluster.patchInfrastructureStatus({ controlPlaneTopology: { nested: true }, infrastructureTopology: 'External' });
      await expectSized({ ...HA, source: 'Infrastructure', profile: 'HighlyAvailable' }, 2, /controlPlaneTopology is an object, not a string.*infrastructureTopology "External" is not a known value/);
      await expectWarning(/infrastructureTopology "External" is not a known value/);
    });

    it('a status that is not an object: HighlyAvailable', async function () {
      const obj = (await cluster.infrastructure())!;
      await cluster.custom.replaceClusterCustomObjectStatus({ ...INFRASTRUCTURE, body: { ...obj, status: 'broken' } });
      await expectSized({ ...HA, source: 'Infrastructure', profile: 'HighlyAvailable' }, 2, /has a status that is a string, not an object/);
      await expectWarning(/has a status that is a string/);
    });

    it('logged each problem as a warning, and nothing as an error', function () {
      expect(errorLines(op!, ns)).to.deep.equal([]);
      const warned = op!.logs().filter((l) => l.level === 'warn' && l.component === 'topology');
      expect(warned.length).to.be.at.least(5);
    });
  });

  describe('without RBAC to read infrastructures', function () {
    let restricted: OperatorProcess | undefined;

    before(async function () {
      await op?.stop();
      op = undefined;
      // A good object again, which the restricted operator must not be able to read.
      await recreateInfrastructure();
      await cluster.patchInfrastructureStatus({ controlPlaneTopology: 'SingleReplica', infrastructureTopology: 'SingleReplica' });
      kubectl(['create', 'serviceaccount', '-n', ns, 'operator']);
      // The operator's ClusterRole from config/rbac, minus config.openshift.io.
      const role = JSON.parse(
        kubectl(['create', '--dry-run=client', '-o', 'json', '-f', path.join(repoRoot, 'config', 'rbac', 'role.yaml')]),
      ) as k8s.V1ClusterRole;
      const rules = (role.rules ?? []).filter((r) => !(r.apiGroups ?? []).includes('config.openshift.io'));
      expect(rules.length, 'rules left').to.equal((role.rules ?? []).length - 1);
      expect(rules.some((r) => r.resources?.includes('nodes'))).to.equal(true);
      kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'topo-no-infrastructures' }, rules }),
      );
      kubectl(['create', 'clusterrolebinding', `topo-no-infrastructures-${ns}`, '--clusterrole=topo-no-infrastructures', `--serviceaccount=${ns}:operator`]);
      const review = await kc.makeApiClient(k8s.AuthorizationV1Api).createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${ns}:operator`,
            resourceAttributes: { group: 'config.openshift.io', resource: 'infrastructures', verb: 'list' },
          },
        },
      });
      expect(review.status?.allowed, 'may list infrastructures').to.equal(false);
    });

    after(async function () {
      await restricted?.stop();
    });

    it('counts nodes (SingleReplica on one node), warns, and reports TopologyDetected=False', async function () {
      const token = kubectl(['create', 'token', '-n', ns, 'operator', '--duration=1h']).trim();
      const admin = new k8s.KubeConfig();
      admin.loadFromFile(kubeconfigPath);
      const server = admin.getCurrentCluster()!;
      const file = path.join(clusterStateDir, 'topo-restricted.kubeconfig');
      writeFileSync(
        file,
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'local', cluster: { server: server.server, 'certificate-authority': server.caFile } }],
          users: [{ name: 'operator', user: { token } }],
          contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
          'current-context': 'operator',
        }),
        { mode: 0o600 },
      );
      restricted = await startOperator({ kubeconfig: file });
      op = restricted;
      await cluster.createMemcached(ns, 'restricted', {});
      for (const name of ['cache', 'restricted']) {
        await eventually(
          `${name} sized by nodes`,
          async () => {
            const s = await cluster.snapshot(ns, name);
            expect(s.mc?.status?.topology).to.deep.equal({ ...SINGLE, source: 'Nodes', schedulableNodes: 1, profile: 'SingleReplica' });
            expect(s.replicas).to.equal(1);
            expect(s.pdb).to.equal(undefined);
            expect(condition(s.mc, 'TopologyDetected')).to.include({ status: 'False', reason: 'TopologyAssumed' });
            expect(condition(s.mc, 'TopologyDetected')?.message).to.match(/RBAC forbids/);
            return s;
          },
          { timeoutMs: 30_000 },
        );
      }
      await expectHealthy(restricted);
      expect(
        restricted.logs().some((l) => l.level === 'warn' && /RBAC forbids listing infrastructures\.config\.openshift\.io\/v1/.test(String(l.msg))),
        'RBAC warning log line',
      ).to.equal(true);
      expect(errorLines(restricted, ns)).to.deep.equal([]);
    });
  });
});
