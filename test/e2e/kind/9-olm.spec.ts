// OLM v0 for real: OLM installed from its pinned release manifests (make
// olm-install), the bundle and a file-based catalog published to the bed's
// registry with the Makefile's targets, and the path a user takes:
// CatalogSource -> OperatorGroup -> Subscription (automatic) -> InstallPlan
// -> CSV Succeeded -> the operator pod Running from the real image -> a
// Memcached Available whose Service really serves. Once for every install
// mode the CSV claims; then the upgrade users take through one channel: the
// released 0.2.0 (built from its own commit: memcached in a Deployment) to
// 0.3.0 (this checkout: the StatefulSet, the cache moved), measured with a
// real consistent-hashing client, then 0.3.0 to 0.3.1 (the same code again);
// then operator-sdk run bundle and cleanup. Last, make olm-uninstall
// removes OLM and all it installed, and the cluster must be as the spec
// found it (make deploy's operator rolls out again).
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { eventually, repoRoot } from '../../support/cluster.js';
import { Memcacheds } from '../../support/memcached.js';
import { describePods, isPodReady, type Cluster } from '../../integration/topology/support.js';
import { deleteNamespaces, k, kRun, make, restrictedNamespace } from '../support.js';
import { keptShare, markPods, operatorServerLists, podChanges, startCacheClient } from './cacheclient.js';
import { applyMemcached, deployOperator, kindCluster, memcachedSession, recordResult, startClientPod } from './support.js';
import {
  PACKAGE,
  RELEASED_0_2_0,
  applyCatalogSource,
  bundleImage,
  applyOperatorGroup,
  applySubscription,
  csvSucceeded,
  deleteCatalogSource,
  installPlans,
  operatorImage,
  operatorPodsRunning,
  operatorSdk,
  publishBundles,
  publishCatalog,
  publishEmptyIndex,
  registry,
  uninstall,
} from './olm.js';

/** The versions this checkout publishes after the released 0.2.0: 0.3.0 moves its caches, 0.3.1 is the same code again; the last is the channel head. */
const CHECKOUT_VERSIONS = ['0.3.0', '0.3.1'];
const HEAD = CHECKOUT_VERSIONS.at(-1)!;
// The upgrade's cache: 64 MB servers holding values of 1000 bytes
// (1184-byte slab chunks), 37% of the memory. Four servers on the bed's three
// workers: their anti-affinity is Preferred, so the StatefulSet's pods can
// start beside the Deployment's. With Required anti-affinity (size <=
// schedulable nodes) the 0.2.0 pods' own rule keeps every new pod off their
// nodes, and the move needs 2 x size nodes.
const UPGRADE_SERVERS = 4;
const UPGRADE_MEMORY_MB = 64;
const UPGRADE_KEYS = 80_000;
const UPGRADE_VALUE_BYTES = 1000;
const MEMCACHED_PORT = 11211;

type Mode = 'OwnNamespace' | 'SingleNamespace' | 'MultiNamespace' | 'AllNamespaces';

/** The install modes config/manifests' CSV base claims (the bundle is generated from it). */
function claimedModes(): Mode[] {
  const file = path.join(repoRoot, 'config', 'manifests', 'bases', 'memcached-operator.clusterserviceversion.yaml');
  const csv = parseYaml(readFileSync(file, 'utf8')) as { spec: { installModes: { type: Mode; supported: boolean }[] } };
  return csv.spec.installModes.filter((m) => m.supported).map((m) => m.type);
}

/** A Memcached in namespace becomes Available and its Service answers set and get from a client pod there. */
async function serves(cluster: Cluster, namespace: string, name = 'sample'): Promise<void> {
  applyMemcached(namespace, name, { memoryLimitMB: 64 });
  const client = await startClientPod(cluster, namespace);
  await new Memcacheds(cluster.kc, namespace).waitAvailable(name, 300_000);
  const value = `olm-${Date.now()}`;
  // A new Service may reuse the ClusterIP of one the previous install mode
  // deleted, and a loaded node's kube-proxy can route it to the old backend
  // for a moment (seen: the old operator's HTTP port answering 400); the
  // Service must answer once its rules are current.
  await eventually(
    `Service ${namespace}/${name} answers set and get`,
    () => {
      const r = memcachedSession(namespace, client, `${name}.${namespace}.svc.cluster.local.`, 'olm-key', value);
      if (r.stored && r.value === value) return r;
      throw new Error(r.raw);
    },
    { timeoutMs: 90_000, intervalMs: 1000 },
  );
}

describe('kind: OLM v0 installs from a catalog, in every claimed install mode, and upgrades through a channel', function () {
  this.timeout(1_800_000);
  let cluster: Cluster;
  const SOURCE = 'memcached-operator-e2e';
  const catalogs: Record<string, string> = {};
  let found: ClusterShape | undefined;

  before(() => {
    cluster = kindCluster();
    // The earlier kind specs leave make deploy's operator running (it watches
    // every namespace): a second operator would reconcile OLM's Memcacheds
    // too. OLM's installs start from a cluster without it (and its CRD).
    const undeploy = make('undeploy');
    expect(undeploy.status, `make undeploy failed: ${undeploy.stderr}`).to.equal(0);
    found = clusterShape();
    // The channel as it grows: each catalog publishes one more version
    // (replacing the one before), as a publisher updates it.
    const versions = [RELEASED_0_2_0.version, ...CHECKOUT_VERSIONS];
    const versionMs = publishBundles([RELEASED_0_2_0, ...CHECKOUT_VERSIONS.map((version) => ({ version }))]);
    const started = Date.now();
    versions.forEach((v, i) => (catalogs[v] = publishCatalog(`e2e-v${v}`, versions.slice(0, i + 1))));
    recordResult('olm.publish', { versionMs, catalogsMs: Date.now() - started });
  });

  // Whatever failed above: OLM does not outlive the spec (idempotent; the
  // last test below has removed it already when all went well).
  after(() => {
    deleteCatalogSource(SOURCE);
    make('olm-uninstall');
  });

  describe('install modes', () => {
    before(async () => applyCatalogSource(SOURCE, catalogs[HEAD]));

    const layouts: Record<Mode, (own: string, others: string[]) => { targets: string[] | undefined; serveIn: string[] }> = {
      OwnNamespace: (own) => ({ targets: [own], serveIn: [own] }),
      SingleNamespace: (_own, [a]) => ({ targets: [a], serveIn: [a] }),
      MultiNamespace: (_own, [a, b]) => ({ targets: [a, b], serveIn: [a, b] }),
      AllNamespaces: (_own, [a]) => ({ targets: undefined, serveIn: [a] }),
    };

    for (const mode of claimedModes()) {
      it(`${mode}: Subscription -> InstallPlan -> CSV Succeeded -> operator pod from the real image -> a Memcached serves`, async () => {
        const own = restrictedNamespace(`olm-${mode.toLowerCase().slice(0, 6)}`);
        const others = [restrictedNamespace('olm-target'), restrictedNamespace('olm-target')];
        try {
          const { targets, serveIn } = layouts[mode](own, others);
          applyOperatorGroup(own, targets);
          applySubscription(own, SOURCE);
          const csv = await csvSucceeded(own, `${PACKAGE}.v${HEAD}`);
          expect(csv.spec.version).to.equal(HEAD);
          const plans = installPlans(own);
          expect(plans.some((p) => p.csvs.includes(`${PACKAGE}.v${HEAD}`) && p.approval === 'Automatic' && p.phase === 'Complete'), JSON.stringify(plans)).to.equal(true);
          const pods = await operatorPodsRunning(cluster, own, operatorImage(HEAD));
          expect(pods).to.have.length.greaterThan(0);
          for (const ns of serveIn) await serves(cluster, ns);
          recordResult(`olm.installMode.${mode}`, { csv: csv.metadata.name, operatorPods: pods.length, servedIn: serveIn.length });
        } finally {
          await uninstall(own, [own, ...others]);
          deleteNamespaces(own, ...others);
        }
      });
    }
  });

  describe('upgrade 0.2.0 (Deployment) -> 0.3.0 (StatefulSet) -> 0.3.1 through the channel, automatically', () => {
    let own = '';
    let apps = '';
    const name = 'upgrade';

    after(async () => {
      if (own) await uninstall(own, [apps].filter(Boolean));
      deleteNamespaces(...[own, apps].filter(Boolean));
    });

    it('moves a 0.2.0 cache to the StatefulSet keeping >= 95% of a pylibmc client\'s keys, then 0.3.0 -> 0.3.1 keeps >= 99% and every memcached pod', async () => {
      await applyCatalogSource(SOURCE, catalogs['0.2.0']);
      own = restrictedNamespace('olm-upgrade');
      apps = restrictedNamespace('olm-upgrade-apps');
      applyOperatorGroup(own, undefined);
      applySubscription(own, SOURCE, `${PACKAGE}.v0.2.0`);
      await csvSucceeded(own, `${PACKAGE}.v0.2.0`);
      await operatorPodsRunning(cluster, own, operatorImage('0.2.0'));
      applyMemcached(apps, name, { size: UPGRADE_SERVERS, memoryLimitMB: UPGRADE_MEMORY_MB });
      const mcs = new Memcacheds(cluster.kc, apps);
      await mcs.waitAvailable(name, 300_000);
      const client = await startCacheClient(cluster, apps, name);
      // 0.2.0 publishes no server list: the user's client names the
      // Deployment's pods as it finds them (by pod name: no ordinals), so its
      // ring is not the one 0.3.0 publishes. What the client still gets
      // after the move is what the operator copied to the new owners.
      const oldServers = await deploymentServers(cluster, apps, name, UPGRADE_SERVERS);
      expect(client.load(UPGRADE_KEYS, UPGRADE_VALUE_BYTES, oldServers), 'every key stored on the 0.2.0 pods')
        .to.deep.equal({ stored: UPGRADE_KEYS, failed: 0, errors: 0 });
      const memcachedUids = await uids(mcs);

      let started = Date.now();
      await applyCatalogSource(SOURCE, catalogs['0.3.0']);
      await csvSucceeded(own, `${PACKAGE}.v0.3.0`, 600_000);
      await operatorPodsRunning(cluster, own, operatorImage('0.3.0'));
      const move = await migrated(cluster, apps, name);
      const moveMs = Date.now() - started;
      const servers = await publishedServers(cluster, apps, name, UPGRADE_SERVERS);
      const moved = client.check(UPGRADE_KEYS, servers);
      recordResult('olm.upgrade.0.2.0-to-0.3.0', {
        servedShare: Number(keptShare(moved, UPGRADE_KEYS).toFixed(4)), ...moved, keys: UPGRADE_KEYS,
        keysBefore: move.keysBefore, keysKept: move.keysKept, upgradeMs: moveMs, operationMs: operationMs(move), operation: move,
      });
      expect(moved.wrong, 'keys served with another key\'s value').to.equal(0);
      expect(keptShare(moved, UPGRADE_KEYS), `share of ${UPGRADE_KEYS} keys the client gets on the published list after the move`).to.be.at.least(0.95);

      const podsBefore = await markPods(cluster, apps, name);
      started = Date.now();
      await applyCatalogSource(SOURCE, catalogs['0.3.1']);
      await csvSucceeded(own, `${PACKAGE}.v0.3.1`, 600_000);
      await operatorPodsRunning(cluster, own, operatorImage('0.3.1'));
      const settled = await settledAt(cluster, apps, name, UPGRADE_SERVERS);
      const upgradeMs = Date.now() - started;
      expect(await publishedServers(cluster, apps, name, UPGRADE_SERVERS), 'the published list').to.deep.equal(servers);
      const kept = client.check(UPGRADE_KEYS, servers);
      const pods = podChanges(podsBefore, await markPods(cluster, apps, name));
      recordResult('olm.upgrade.0.3.0-to-0.3.1', {
        servedShare: Number(keptShare(kept, UPGRADE_KEYS).toFixed(4)), ...kept, upgradeMs,
        podsReplaced: pods.replaced, containerRestarts: pods.restarts, lastOperation: settled.status?.lastOperation,
      });
      expect(await uids(mcs), 'no Memcached lost or recreated').to.deep.equal(memcachedUids);
      expect(pods.replaced, 'memcached pods the 0.3.0 -> 0.3.1 upgrade replaced').to.equal(0);
      expect(kept.wrong, 'keys served with another key\'s value').to.equal(0);
      expect(keptShare(kept, UPGRADE_KEYS), `share of ${UPGRADE_KEYS} keys still served after 0.3.0 -> 0.3.1`).to.be.at.least(0.99);
    });
  });

  describe('operator-sdk run bundle, then operator-sdk cleanup', () => {
    let ns = '';
    after(() => {
      if (ns) deleteNamespaces(ns);
    });

    it('installs the bundle into an index image from the bed\'s registry (HTTPS, test CA), serves, and cleans up', async () => {
      // operator-sdk's registry pod sets no runAsNonRoot and its
      // decompression container runs as root: restricted would refuse them,
      // so this namespace enforces baseline (the operator's own pod and the
      // Memcached's are restricted all the same; warn shows any that is not).
      ns = `olm-run-bundle-${Math.random().toString(36).slice(2, 8)}`;
      k(['create', 'namespace', ns]);
      k(['label', 'namespace', ns, 'pod-security.kubernetes.io/enforce=baseline', 'pod-security.kubernetes.io/warn=restricted']);
      // The exact command README and docs/install.md show: the bundle added
      // to an empty index image, both read over HTTPS from the bed's registry.
      const index = publishEmptyIndex();
      const started = Date.now();
      const r = operatorSdk([
        'run', 'bundle', bundleImage(HEAD),
        '--index-image', index,
        '--namespace', ns,
        '--install-mode', 'OwnNamespace',
        '--decompression-image', `${registry()}/debian:bookworm`,
        '--security-context-config', 'restricted',
        '--timeout', '5m',
      ]);
      expect(r.status, `operator-sdk run bundle failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
      expect(r.stdout + r.stderr).to.match(/OLM has successfully installed \\?"memcached-operator\.v0\.3\.1/);
      const runBundleMs = Date.now() - started;
      const csv = await csvSucceeded(ns, `${PACKAGE}.v${HEAD}`);
      const pods = await operatorPodsRunning(cluster, ns, operatorImage(HEAD));
      // Every image the install ran came through the nodes' containerd from
      // the registry, by the name it was pushed under.
      const images = kRun(['get', 'pods', '-n', ns, '-o', 'jsonpath={range .items[*]}{range .spec.initContainers[*]}{.image}{"\\n"}{end}{range .spec.containers[*]}{.image}{"\\n"}{end}{end}']).stdout;
      expect(images).to.include(index);
      await serves(cluster, ns);
      recordResult('olm.runBundle', { csv: csv.metadata.name, operatorPods: pods.length, runBundleMs });

      // The Memcacheds go while the operator runs (it finalizes them).
      const del = kRun(['delete', 'memcacheds.cache.example.com', '--all', '-n', ns, '--wait=true', '--timeout=180s']);
      expect(del.status, del.stderr).to.equal(0);
      kRun(['delete', 'pod', 'memcached-client', '-n', ns, '--wait=false']); // the spec's own, not the install's
      const c = operatorSdk(['cleanup', PACKAGE, '--namespace', ns, '--timeout', '3m']);
      expect(c.status, `operator-sdk cleanup failed:\n${c.stdout.slice(-4000)}\n${c.stderr.slice(-4000)}`).to.equal(0);
      await eventually(`everything run bundle made in ${ns} gone`, () => {
        const left = kRun(['get', 'subscriptions.operators.coreos.com,clusterserviceversions.operators.coreos.com,installplans.operators.coreos.com,catalogsources.operators.coreos.com,operatorgroups.operators.coreos.com,deployments,pods,configmaps', '-n', ns, '-o', 'name']);
        expect(left.status, left.stderr).to.equal(0);
        const objects = left.stdout.split('\n').filter((l) => l && l !== 'configmap/kube-root-ca.crt');
        if (objects.length === 0) return true;
        throw new Error(objects.join(', '));
      }, { timeoutMs: 180_000, intervalMs: 2000 });
    });
  });

  describe('make olm-uninstall', () => {
    it('removes OLM and all it installed: the cluster is as the spec found it, and make deploy rolls out', async () => {
      deleteCatalogSource(SOURCE);
      // OLM leaves the CRDs of the operators it installed: ours goes too
      // (every Memcached is gone with its install), as make undeploy left it.
      const un = make('uninstall');
      expect(un.status, `make uninstall failed: ${un.stderr}`).to.equal(0);
      const r = make('olm-uninstall');
      expect(r.status, `make olm-uninstall failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
      const started = Date.now();
      await eventually('no OLM API and the cluster-wide objects the spec found, no more, no fewer', () => {
        const apis = kRun(['get', 'apiservices', '-o', 'name']).stdout.split('\n').filter((a) => /operators\.coreos\.com$/.test(a));
        expect(apis, 'OLM\'s APIServices (v1.packages.operators.coreos.com)').to.deep.equal([]);
        const crds = kRun(['get', 'crd', '-o', 'name']).stdout.split('\n').filter((c) => /\.operators\.coreos\.com$/.test(c));
        expect(crds, 'operators.coreos.com CRDs').to.deep.equal([]);
        expect(kRun(['api-resources', '--api-group', 'operators.coreos.com', '-o', 'name']).stdout.trim(), 'operators.coreos.com still served').to.equal('');
        const diff = diffShape(found!, clusterShape());
        expect(diff, JSON.stringify(diff)).to.deep.equal({});
        return true;
      }, { timeoutMs: 300_000, intervalMs: 2000 });
      recordResult('olm.uninstall', { goneAfterMs: Date.now() - started });
      // The operator as make deploy runs it, which the earlier specs left.
      const pods = await deployOperator(cluster);
      expect(pods).to.have.length(1);
    });
  });
});

/** Names of the cluster-wide objects an install can leave behind, and the namespaces. */
type ClusterShape = Record<string, string[]>;
const SHAPE_KINDS = ['namespaces', 'customresourcedefinitions', 'apiservices', 'clusterroles', 'clusterrolebindings',
  'mutatingwebhookconfigurations', 'validatingwebhookconfigurations', 'rolebindings -n kube-system', 'roles -n kube-system'];

// Namespaces still terminating from an earlier spec are not part of the
// shape: they go on their own while this spec runs (seen in CI: 8-security-tls's).
const ACTIVE_NAMESPACES = ['-o', 'jsonpath={range .items[?(@.status.phase=="Active")]}namespace/{.metadata.name}{"\\n"}{end}'];

function clusterShape(): ClusterShape {
  const out: ClusterShape = {};
  for (const kind of SHAPE_KINDS) {
    const output = kind === 'namespaces' ? ACTIVE_NAMESPACES : ['-o', 'name'];
    out[kind] = k(['get', ...kind.split(' '), ...output]).split('\n').filter(Boolean).sort();
  }
  return out;
}

/** kind -> what is there now and was not (+name), and what was and is not (-name); empty when equal. */
function diffShape(before: ClusterShape, now: ClusterShape): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const kind of SHAPE_KINDS) {
    const was = new Set(before[kind]);
    const is = new Set(now[kind]);
    const d = [...now[kind].filter((n) => !was.has(n)).map((n) => `+${n}`), ...before[kind].filter((n) => !is.has(n)).map((n) => `-${n}`)];
    if (d.length) out[kind] = d;
  }
  return out;
}

/** name -> uid of every Memcached (a recreated one has a new uid). */
async function uids(mcs: Memcacheds): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const m of await mcs.list()) out[m.metadata.name ?? ''] = m.metadata.uid ?? '';
  return out;
}

/** The Deployment's memcached pods as a 0.2.0 user's client names them: host:port, in pod-name order (no ordinals). */
async function deploymentServers(cluster: Cluster, namespace: string, name: string, replicas: number): Promise<string[]> {
  return eventually(`${replicas} Ready pods of the 0.2.0 Deployment ${namespace}/${name}`, async () => {
    const pods = (await cluster.pods(namespace, name)).filter((p) => isPodReady(p) && p.status?.podIP);
    if (pods.length !== replicas) throw new Error(describePods(pods));
    return pods.map((p) => `${p.status!.podIP}:${MEMCACHED_PORT}`).sort((a, b) => a.localeCompare(b));
  }, { timeoutMs: 180_000, intervalMs: 1000 });
}

interface LastOperation {
  type: string;
  phase: string;
  startedAt: string;
  finishedAt?: string;
  keysBefore?: number;
  keysKept?: number;
  message?: string;
}

interface MemcachedView {
  metadata: { generation: number };
  status?: { observedGeneration?: number; servers?: { name: string; state: string }[]; lastOperation?: LastOperation };
}

async function readMemcached(cluster: Cluster, namespace: string, name: string): Promise<MemcachedView> {
  return (await cluster.custom.getNamespacedCustomObject({ group: 'cache.example.com', version: 'v1alpha1', namespace, plural: 'memcacheds', name })) as MemcachedView;
}

/** Whether the released version's Deployment is still there. */
async function deploymentExists(cluster: Cluster, namespace: string, name: string): Promise<boolean> {
  return cluster.apps.readNamespacedDeployment({ namespace, name }).then(
    () => true,
    (err: unknown) => {
      if (err instanceof k8s.ApiException && err.code === 404) return false;
      throw err;
    },
  );
}

/** Waits for the move the upgrade starts to end: lastOperation Migrate Succeeded with the 0.2.0 Deployment gone, or Migrate Failed (said at once). */
async function migrated(cluster: Cluster, namespace: string, name: string): Promise<LastOperation> {
  const op = await eventually(`${namespace}/${name} moved to the StatefulSet`, async () => {
    const last = (await readMemcached(cluster, namespace, name)).status?.lastOperation;
    if (last?.type === 'Migrate' && last.phase === 'Failed') return last;
    if (last?.type !== 'Migrate' || last.phase !== 'Succeeded') throw new Error(`lastOperation ${JSON.stringify(last)}`);
    if (await deploymentExists(cluster, namespace, name)) throw new Error(`the Deployment is still there (lastOperation ${JSON.stringify(last)})`);
    return last;
  }, { timeoutMs: 600_000, intervalMs: 1000 });
  expect(op.phase, `the move: ${JSON.stringify(op)}`).to.equal('Succeeded');
  return op;
}

/** Waits until the Memcached is settled: status current, no operation running, every server Warm. */
async function settledAt(cluster: Cluster, namespace: string, name: string, replicas: number): Promise<MemcachedView> {
  return eventually(`${namespace}/${name} settled at ${replicas} servers`, async () => {
    const mc = await readMemcached(cluster, namespace, name);
    const s = mc.status ?? {};
    if (s.observedGeneration !== mc.metadata.generation) throw new Error(`observedGeneration ${s.observedGeneration} of ${mc.metadata.generation}`);
    if (s.lastOperation?.phase === 'Running') throw new Error(`${s.lastOperation.type} running: ${s.lastOperation.message}`);
    if ((s.servers ?? []).length !== replicas || s.servers!.some((x) => x.state !== 'Warm')) throw new Error(`servers ${JSON.stringify(s.servers)}`);
    return mc;
  }, { timeoutMs: 300_000, intervalMs: 1000 });
}

/** The list the operator publishes, once the ConfigMap and status.serverList agree and name every server. */
async function publishedServers(cluster: Cluster, namespace: string, name: string, replicas: number): Promise<string[]> {
  return eventually(`${namespace}/${name}-servers names ${replicas} servers`, async () => {
    const lists = await operatorServerLists(cluster, namespace, name);
    if (lists.configMap.length === replicas && JSON.stringify(lists.configMap) === JSON.stringify(lists.status)) return lists.configMap;
    throw new Error(`ConfigMap ${lists.configMap.join(' ')}; status.serverList ${lists.status.join(' ')}`);
  }, { timeoutMs: 120_000, intervalMs: 1000 });
}

const operationMs = (op: LastOperation): number | undefined => (op.finishedAt ? Date.parse(op.finishedAt) - Date.parse(op.startedAt) : undefined);
