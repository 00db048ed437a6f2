// OLM v0 for real: OLM installed from its pinned release manifests (make
// olm-install), the bundle and a file-based catalog published to the bed's
// registry with the Makefile's targets, and the path a user takes:
// CatalogSource -> OperatorGroup -> Subscription (automatic) -> InstallPlan
// -> CSV Succeeded -> the operator pod Running from the real image -> a
// Memcached Available whose Service really serves. Once for every install
// mode the CSV claims; then an upgrade from 0.1.0 to 0.2.0 through one
// channel while every Memcached is sampled every 200 ms; then operator-sdk
// run bundle and cleanup. Last, make olm-uninstall removes OLM and all it
// installed, and the cluster must be as the spec found it (make deploy's
// operator rolls out again).
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { eventually, repoRoot } from '../../support/cluster.js';
import { Memcacheds } from '../../support/memcached.js';
import type { Cluster } from '../../integration/topology/support.js';
import { clusterKubeconfig, deleteNamespaces, k, kRun, kubectlBin, make, restrictedNamespace } from '../support.js';
import { ReadySampler, applyMemcached, deployOperator, kindCluster, memcachedSession,
  resolveInPod, recordResult, startClientPod } from './support.js';
import {
  PACKAGE,
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
  let catalogV1 = '';
  let catalogV2 = '';
  let found: ClusterShape | undefined;

  before(() => {
    cluster = kindCluster();
    // The earlier kind specs leave make deploy's operator running (it watches
    // every namespace): a second operator would reconcile OLM's Memcacheds
    // too. OLM's installs start from a cluster without it (and its CRD).
    const undeploy = make('undeploy');
    expect(undeploy.status, `make undeploy failed: ${undeploy.stderr}`).to.equal(0);
    found = clusterShape();
    publishBundles(['0.1.0', '0.2.0']);
    catalogV1 = publishCatalog('e2e-v0.1.0', ['0.1.0']);
    catalogV2 = publishCatalog('e2e-v0.2.0', ['0.1.0', '0.2.0']);
  });

  // Whatever failed above: OLM does not outlive the spec (idempotent; the
  // last test below has removed it already when all went well).
  after(() => {
    deleteCatalogSource(SOURCE);
    make('olm-uninstall');
  });

  describe('install modes', () => {
    before(async () => applyCatalogSource(SOURCE, catalogV2));

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
          const csv = await csvSucceeded(own, `${PACKAGE}.v0.2.0`);
          expect(csv.spec.version).to.equal('0.2.0');
          const plans = installPlans(own);
          expect(plans.some((p) => p.csvs.includes(`${PACKAGE}.v0.2.0`) && p.approval === 'Automatic' && p.phase === 'Complete'), JSON.stringify(plans)).to.equal(true);
          const pods = await operatorPodsRunning(cluster, own, operatorImage('0.2.0'));
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

  describe('upgrade 0.1.0 -> 0.2.0 through the channel, automatically', () => {
    let own = '';
    let apps = '';
    const names = ['upgrade-a', 'upgrade-b'];

    after(async () => {
      if (own) await uninstall(own, [apps].filter(Boolean));
      deleteNamespaces(...[own, apps].filter(Boolean));
    });

    it('keeps every Memcached serving (>=1 Ready pod, Service answers a get every 200 ms) and rewrites no child needlessly', async () => {
      await applyCatalogSource(SOURCE, catalogV1);
      own = restrictedNamespace('olm-upgrade');
      apps = restrictedNamespace('olm-upgrade-apps');
      applyOperatorGroup(own, undefined);
      applySubscription(own, SOURCE, `${PACKAGE}.v0.1.0`);
      await csvSucceeded(own, `${PACKAGE}.v0.1.0`);
      await operatorPodsRunning(cluster, own, operatorImage('0.1.0'));
      for (const n of names) applyMemcached(apps, n, { memoryLimitMB: 64 });
      const client = await startClientPod(cluster, apps);
      const mcs = new Memcacheds(cluster.kc, apps);
      for (const n of names) await mcs.waitAvailable(n, 300_000);
      // Each pod is an independent memcached behind the Service: store the key
      // on every pod (headless addresses), so the check below cannot miss it
      // by landing on another pod.
      const podAddresses = new Map(names.map((n) => [n, resolveInPod(apps, client, `${n}-headless.${apps}.svc`)]));
      for (const n of names) {
        for (const ip of podAddresses.get(n)!) expect(memcachedSession(apps, client, ip, 'before', `before-${n}`).stored, `${n} at ${ip}`).to.equal(true);
      }
      // Let status settle before the baseline: the children as they stand.
      const before = await children(cluster, apps);
      const uidsBefore = await uids(mcs);

      const probe = new ServiceProbe(apps, client, names.map((n) => `${n}.${apps}.svc`));
      const samplers = names.map((n) => new ReadySamplerFor(cluster, apps, n));
      probe.start();
      samplers.forEach((s) => s.start());
      const started = Date.now();
      // The catalog publishes 0.2.0 (replaces 0.1.0): the catalog image is updated, as a publisher would.
      await applyCatalogSource(SOURCE, catalogV2);
      const csv = await csvSucceeded(own, `${PACKAGE}.v0.2.0`, 600_000);
      await operatorPodsRunning(cluster, own, operatorImage('0.2.0'));
      await eventually('the 0.1.0 CSV replaced and removed', () => {
        const left = k(['get', 'csv', '-n', own, '-o', 'name']).trim().split('\n');
        if (left.length === 1 && left[0].endsWith(`${PACKAGE}.v0.2.0`)) return true;
        throw new Error(left.join(','));
      }, { timeoutMs: 180_000, intervalMs: 1000 });
      const upgradeMs = Date.now() - started;
      // The new operator has had its first full reconcile of every Memcached.
      for (const n of names) await mcs.waitAvailable(n, 120_000);
      await new Promise((r) => setTimeout(r, 10_000)); // keep sampling past the new operator's first resync window
      const probeResult = await probe.stop();
      const ready = await Promise.all(samplers.map((s) => s.stop()));
      const after = await children(cluster, apps);
      const uidsAfter = await uids(mcs);

      const rewrites = Object.keys(before).filter((key) => after[key] && after[key].generation !== before[key].generation);
      const writes = Object.keys(before).filter((key) => after[key] && after[key].resourceVersion !== before[key].resourceVersion);
      const lost = Object.keys(before).filter((key) => !after[key]);
      const result = {
        csv: csv.metadata.name,
        upgradeMs,
        getsAnswered: probeResult.answered,
        getsFailed: probeResult.failed,
        worstGetGapMs: probeResult.worstGapMs,
        minReadyPods: Math.min(...ready.map((r) => r.minReady)),
        worstReadySampleGapMs: Math.max(...ready.map((r) => r.maxGapMs)),
        children: Object.keys(before).length,
        childWrites: writes.length,
        childSpecRewrites: rewrites.length,
        writtenChildren: writes,
      };
      recordResult('olm.upgrade', result);
      expect(uidsAfter, 'no Memcached lost or recreated').to.deep.equal(uidsBefore);
      expect(lost, 'children lost').to.deep.equal([]);
      expect(result.minReadyPods, 'every Memcached kept >=1 Ready pod').to.be.at.least(1);
      expect(probeResult.failed, `gets that failed: ${probeResult.failures.slice(0, 5).join('; ')}`).to.equal(0);
      expect(probeResult.answered).to.be.greaterThan(names.length * 10);
      expect(rewrites, 'children whose spec the upgrade rewrote').to.deep.equal([]);
      expect(writes, 'children the upgrade wrote at all').to.deep.equal([]);
      for (const n of names) {
        for (const ip of podAddresses.get(n)!) expect(memcachedSession(apps, client, ip, 'before').value, `${n} at ${ip} kept its data`).to.equal(`before-${n}`);
      }
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
        'run', 'bundle', bundleImage('0.2.0'),
        '--index-image', index,
        '--namespace', ns,
        '--install-mode', 'OwnNamespace',
        '--decompression-image', `${registry()}/debian:bookworm`,
        '--security-context-config', 'restricted',
        '--timeout', '5m',
      ]);
      expect(r.status, `operator-sdk run bundle failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
      expect(r.stdout + r.stderr).to.match(/OLM has successfully installed \\?"memcached-operator\.v0\.2\.0/);
      const runBundleMs = Date.now() - started;
      const csv = await csvSucceeded(ns, `${PACKAGE}.v0.2.0`);
      const pods = await operatorPodsRunning(cluster, ns, operatorImage('0.2.0'));
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

/** generation and resourceVersion of every Deployment, Service and PodDisruptionBudget in namespace. */
async function children(cluster: Cluster, namespace: string): Promise<Record<string, { generation?: number; resourceVersion?: string }>> {
  const [deps, svcs, pdbs] = await Promise.all([
    cluster.apps.listNamespacedDeployment({ namespace }),
    cluster.core.listNamespacedService({ namespace }),
    cluster.policy.listNamespacedPodDisruptionBudget({ namespace }),
  ]);
  const out: Record<string, { generation?: number; resourceVersion?: string }> = {};
  for (const [kind, items] of [['Deployment', deps.items], ['Service', svcs.items], ['PodDisruptionBudget', pdbs.items]] as const) {
    for (const o of items) out[`${kind}/${o.metadata!.name}`] = { generation: o.metadata?.generation, resourceVersion: o.metadata?.resourceVersion };
  }
  return out;
}

/** ReadySampler with its summary. */
class ReadySamplerFor {
  private readonly sampler: ReadySampler;
  constructor(cluster: Cluster, namespace: string, name: string) {
    this.sampler = new ReadySampler(cluster, namespace, name);
  }
  start(): void {
    this.sampler.start();
  }
  async stop(): Promise<{ minReady: number; maxGapMs: number }> {
    await this.sampler.stop();
    this.sampler.check();
    return { minReady: this.sampler.minReady(), maxGapMs: this.sampler.maxGapMs() };
  }
}

// In the client pod: every 200 ms, one get per host over a fresh connection;
// prints "<epoch ms> <host> ok|miss|err" per attempt.
const PROBE = `hosts="$*"
while :; do
  for h in $hosts; do
    t=$(date +%s%3N)
    if r=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/11211"; printf "get probe\\r\\nquit\\r\\n" >&3; timeout 2 cat <&3' "$h" 2>/dev/null | tr -d '\\r'); then
      case $r in *END*) echo "$t $h ok" ;; *) echo "$t $h miss" ;; esac
    else echo "$t $h err"; fi
  done
  sleep 0.2
done`;

/** Gets through each Service every 200 ms from inside the client pod, until stopped. */
class ServiceProbe {
  private child: ChildProcess | undefined;
  private out = '';
  constructor(private readonly namespace: string, private readonly client: string, private readonly hosts: string[]) {}

  start(): void {
    this.child = spawn(kubectlBin(), ['--kubeconfig', clusterKubeconfig(), 'exec', '-n', this.namespace, this.client, '--', 'bash', '-c', PROBE, 'probe', ...this.hosts], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (b: Buffer) => (this.out += b.toString()));
  }

  async stop(): Promise<{ answered: number; failed: number; failures: string[]; worstGapMs: number }> {
    const child = this.child!;
    const closed = new Promise((r) => child.once('close', r));
    child.kill('SIGTERM');
    await closed;
    const lines = this.out.split('\n').map((l) => l.trim().split(' ')).filter((f) => f.length === 3);
    if (child.exitCode !== null && lines.length === 0) throw new Error(`the probe never ran (exit ${child.exitCode})`);
    const failures = lines.filter((f) => f[2] !== 'ok').map((f) => f.join(' '));
    // The worst gap: per host, the longest time between two answered gets.
    let worst = 0;
    for (const h of this.hosts) {
      const times = lines.filter((f) => f[1] === h && f[2] === 'ok').map((f) => Number(f[0]));
      for (let i = 1; i < times.length; i++) worst = Math.max(worst, times[i] - times[i - 1]);
    }
    return { answered: lines.length - failures.length, failed: failures.length, failures, worstGapMs: worst };
  }
}
