// OLM proof: the real olm operator (OLM v0.38.0, built from source by
// test/cluster/build-olm-tools.sh) runs out of cluster against the local
// cluster, with OLM's own CRDs installed. For each install mode the CSV
// claims, an OperatorGroup of that mode, the bundle's CRD and CSV, and the
// RBAC of the InstallPlan (computed by OLM's resolver, as the catalog operator
// would; catalog pods and bundle-unpack jobs need a container runtime) are
// applied. The CSV must reach Succeeded, and the operator, run with a token
// of the ServiceAccount OLM's RBAC is bound to and WATCH_NAMESPACE set as
// OLM sets it (olm.targetNamespaces), must reconcile the sample to Available.
import { expect } from 'chai';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { eventually, repoRoot } from '../support/cluster.js';
import {
  CRD,
  clusterKubeconfig,
  deleteNamespaces,
  k,
  kRun,
  restrictedNamespace,
  runOperatorAs,
  sampleBecomesAvailable,
} from './support.js';

const CSV_NAME = 'memcached-operator.v0.1.0';
const SA = 'memcached-operator-controller-manager';
const bundleManifests = path.join(repoRoot, 'bundle', 'manifests');
const csvFile = path.join(bundleManifests, 'memcached-operator.clusterserviceversion.yaml');


interface InstallMode {
  type: 'OwnNamespace' | 'SingleNamespace' | 'MultiNamespace' | 'AllNamespaces';
  supported: boolean;
}

function claimedModes(): InstallMode['type'][] {
  const csv = parseYaml(readFileSync(csvFile, 'utf8')) as { spec: { installModes: InstallMode[] } };
  return csv.spec.installModes.filter((m) => m.supported).map((m) => m.type);
}

function olmBin(): string {
  return execFileSync(path.join(repoRoot, 'test', 'cluster', 'build-olm-tools.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

function csvPhase(namespace: string): string {
  return k(['get', 'csv', CSV_NAME, '-n', namespace, '-o', 'jsonpath={.status.phase}/{.status.reason}: {.status.message}']);
}

describe('install with OLM (the real olm operator, out of cluster)', function () {
  this.timeout(900_000);
  let bin = '';
  let olm: ChildProcess | undefined;
  let olmLog = '';

  before(async () => {
    clusterKubeconfig();
    bin = olmBin();
    const manifests = path.join(bin, '..', 'manifests');
    for (const f of readdirSync(path.join(manifests, 'olm-crds')).filter((x) => x.endsWith('.yaml')).sort()) {
      k(['apply', '--server-side', '-f', path.join(manifests, 'olm-crds', f)]);
    }
    // The profile has OpenShift's config API, so OLM also watches Proxies, as on OpenShift.
    if (kRun(['get', 'crd', 'infrastructures.config.openshift.io']).status === 0) {
      k(['apply', '--server-side', '-f', path.join(manifests, 'proxies.config.openshift.io.crd.yaml')]);
    }
    k(['wait', '--for=condition=Established', '--timeout=60s', ...['clusterserviceversions', 'operatorgroups', 'operatorconditions', 'olmconfigs'].map((r) => `crd/${r}.operators.coreos.com`)]);
    kRun(['create', 'namespace', 'olm']);
    olm = spawn(path.join(bin, 'olm'), ['--namespace', 'olm', '--writeStatusName=', '--writePackageServerStatusName=', '--interval', '1m'], {
      env: { ...process.env, KUBECONFIG: clusterKubeconfig() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (b: Buffer) => {
      olmLog = (olmLog + b.toString()).slice(-400_000);
    };
    olm.stdout!.on('data', keep);
    olm.stderr!.on('data', keep);
    await eventually('the olm operator to start its controllers', () => {
      if (olm!.exitCode !== null) throw new Error(`olm exited ${olm!.exitCode}:\n${olmLog}`);
      return olmLog.includes('Starting workers') ? true : undefined;
    }, { timeoutMs: 120_000 });
    // The bundle's CRD, as the InstallPlan would create it.
    k(['apply', '--server-side', '-f', path.join(bundleManifests, 'cache.example.com_memcacheds.yaml')]);
    k(['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD}`]);
  });

  after(async () => {
    if (olm && olm.exitCode === null) {
      const exited = new Promise((resolve) => olm!.once('exit', resolve));
      olm.kill('SIGTERM');
      await exited;
    }
  });

  it('the CSV claims every install mode, and each is proven below', () => {
    expect(claimedModes().sort()).to.deep.equal(['AllNamespaces', 'MultiNamespace', 'OwnNamespace', 'SingleNamespace']);
  });

  for (const mode of ['OwnNamespace', 'SingleNamespace', 'MultiNamespace', 'AllNamespaces'] as const) {
    it(`${mode}: the CSV reaches Succeeded, and OLM's RBAC suffices to reconcile the sample`, async () => {
      expect(claimedModes()).to.include(mode);
      const operatorNs = restrictedNamespace(`olm-${mode.toLowerCase()}`);
      const extra: string[] = [];
      let targets: string[] = [];
      if (mode === 'OwnNamespace') targets = [operatorNs];
      if (mode === 'SingleNamespace') targets = [restrictedNamespace('olm-target')];
      if (mode === 'MultiNamespace') targets = [restrictedNamespace('olm-target'), restrictedNamespace('olm-target')];
      extra.push(...targets.filter((t) => t !== operatorNs));
      const sampleNs = mode === 'AllNamespaces' ? restrictedNamespace('olm-anywhere') : targets[targets.length - 1];
      if (mode === 'AllNamespaces') extra.push(sampleNs);
      let operator: Awaited<ReturnType<typeof runOperatorAs>> | undefined;
      try {
        k(
          ['apply', '--server-side', '-f', '-'],
          JSON.stringify({
            apiVersion: 'operators.coreos.com/v1',
            kind: 'OperatorGroup',
            metadata: { name: 'memcached-operator', namespace: operatorNs },
            spec: mode === 'AllNamespaces' ? {} : { targetNamespaces: targets },
          }),
        );
        k(['apply', '--server-side', '-n', operatorNs, '-f', csvFile]);
        const uid = k(['get', 'csv', CSV_NAME, '-n', operatorNs, '-o', 'jsonpath={.metadata.uid}']);
        // The InstallPlan's RBAC steps, from OLM's resolver; the catalog operator sets the owner's UID.
        const rbac = execFileSync(path.join(bin, 'csvrbac'), [csvFile, operatorNs], { encoding: 'utf8' }).replaceAll('"uid": ""', `"uid": "${uid}"`);
        k(['apply', '--server-side', '-f', '-'], rbac);

        await eventually(
          `CSV in ${operatorNs} to be Succeeded`,
          () => {
            const phase = csvPhase(operatorNs);
            if (phase.startsWith('Succeeded/')) return phase;
            if (phase.startsWith('Failed/')) throw new Error(`CSV failed: ${phase}`);
            throw new Error(phase);
          },
          { timeoutMs: 240_000, intervalMs: 1000 },
        ).catch((err: Error) => {
          throw new Error(`${err.message}\nolm log (tail):\n${olmLog.slice(-5000)}`);
        });

        // OLM's Deployment carries the OperatorGroup's targets, which the
        // manager reads as WATCH_NAMESPACE through the downward API.
        const annotation = k(['get', 'deployment', SA, '-n', operatorNs, '-o', "jsonpath={.spec.template.metadata.annotations['olm\\.targetNamespaces']}"]);
        expect(annotation.split(',').filter(Boolean).sort()).to.deep.equal(mode === 'AllNamespaces' ? [] : [...targets].sort());

        operator = await runOperatorAs(operatorNs, SA, { watchNamespace: annotation });
        await sampleBecomesAvailable(sampleNs, () => operator?.output() ?? '');
        k(['delete', 'memcached', 'memcached-sample', '-n', sampleNs, '--wait', '--timeout=120s']);
      } finally {
        await operator?.stop();
        kRun(['delete', 'csv', CSV_NAME, '-n', operatorNs, '--wait', '--timeout=60s']);
        // The InstallPlan RBAC is owned by the CSV; the cluster-scoped part is cleaned up here.
        kRun(['delete', 'clusterrole,clusterrolebinding', '-l', `olm.owner=${CSV_NAME}`, '--wait']);
        deleteNamespaces(operatorNs, ...extra);
        await eventually(`namespace ${operatorNs} to be gone`, () => (kRun(['get', 'namespace', operatorNs]).status !== 0 ? true : undefined), {
          timeoutMs: 180_000,
          intervalMs: 1000,
        });
      }
    });
  }
});
