// Proofs of the two kustomize install paths, each exactly as docs/install.md
// tells users to run them:
//   make deploy IMG=...                          (server-side apply)
//   make build-installer IMG=... && kubectl apply --server-side -f dist/install.yaml
// Each must create everything with no PodSecurity (or other) warnings in the
// restricted namespace, bring the manager Deployment to Available, give its
// ServiceAccount exactly the checked-in rights, and those rights must be
// enough to reconcile the sample to Available. Removal leaves nothing behind.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_MEMCACHED_IMAGE } from '../../src/options.js';
import { eventually, repoRoot } from '../support/cluster.js';
import {
  CRD,
  IMG,
  MANAGER_DEPLOYMENT,
  OPERATOR_NAMESPACE,
  OPERATOR_SA,
  type HostOperator,
  clusterKubeconfig,
  deleteNamespaces,
  inCluster,
  k,
  kRun,
  make,
  renderedObjects,
  restrictedNamespace,
  runOperatorAs,
  sampleBecomesAvailable,
  waitForCondition,
  warnings,
} from './support.js';

/** `kubectl auth can-i --list` as rows "resource|nonResourceURLs|resourceNames|verbs", sorted. */
function canIList(namespace: string): string[] {
  const out = k(['auth', 'can-i', '--list', '-n', namespace, `--as=system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`]);
  return out
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s{2,}/).join('|'))
    .sort();
}

function expectedCanI(file: string): string[] {
  return readFileSync(path.join(repoRoot, 'test', 'e2e', 'expected', file), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .sort();
}

/** Everything in the rendered output is gone (the namespace and CRD included). */
async function expectNothingLeft(renderedYaml: string): Promise<void> {
  const objects = renderedObjects(renderedYaml);
  expect(objects.length).to.be.greaterThan(5);
  await eventually(
    'every installed object to be gone',
    () => {
      const left = objects.filter((o) => {
        const args = ['get', `${o.kind}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''), o.name, '--ignore-not-found', '-o', 'name'];
        if (o.namespace) args.push('-n', o.namespace);
        return k(args).trim() !== '';
      });
      if (left.length === 0) return true;
      throw new Error(`still there: ${left.map((o) => `${o.kind}/${o.name}`).join(', ')}`);
    },
    { timeoutMs: 180_000, intervalMs: 1000 },
  );
  // And nothing the operator or its RBAC left cluster-wide.
  expect(k(['get', 'clusterroles,clusterrolebindings', '-o', 'name']).split('\n').filter((n) => n.includes('memcached-operator'))).to.deep.equal([]);
  expect(kRun(['get', 'crd', CRD]).status).to.not.equal(0);
}

interface InstallPath {
  title: string;
  install(): { stdout: string; stderr: string; status: number };
  uninstall(): { stdout: string; stderr: string; status: number };
}

const paths: InstallPath[] = [
  {
    title: 'make deploy',
    install: () => make('deploy'),
    uninstall: () => make('undeploy'),
  },
  {
    title: 'dist/install.yaml with kubectl apply --server-side',
    install: () => {
      const built = make('build-installer');
      if (built.status !== 0) return built;
      return kRun(['apply', '--server-side', '-f', path.join(repoRoot, 'dist', 'install.yaml')]);
    },
    uninstall: () => {
      // As docs/install.md says: Memcacheds first, while the operator runs, then the rest.
      const crs = kRun(['delete', 'memcacheds.cache.example.com', '--all', '--all-namespaces', '--wait', '--timeout=120s']);
      if (crs.status !== 0) return crs;
      return kRun(['delete', '--ignore-not-found', '--wait', '-f', path.join(repoRoot, 'dist', 'install.yaml')]);
    },
  },
];

for (const p of paths) {
  describe(`install with ${p.title}`, function () {
    this.timeout(600_000);
    let rendered = '';
    let sampleNamespace = '';
    let operator: HostOperator | undefined;

    before(() => {
      clusterKubeconfig();
      // A previous, interrupted run must not make this one pass or fail.
      make('undeploy');
    });

    after(async () => {
      await operator?.stop();
      if (sampleNamespace) deleteNamespaces(sampleNamespace);
    });

    it('creates every object server-side with no PodSecurity or other warnings', () => {
      const r = p.install();
      expect(r.status, r.stderr).to.equal(0);
      expect(warnings(r.stderr), r.stderr).to.deep.equal([]);
      expect(r.stdout).to.match(/serverside-applied/);
      const labels = JSON.parse(k(['get', 'namespace', OPERATOR_NAMESPACE, '-o', 'jsonpath={.metadata.labels}'])) as Record<string, string>;
      expect(labels['pod-security.kubernetes.io/enforce']).to.equal('restricted');
      const managers = k(['get', 'deployment', MANAGER_DEPLOYMENT, '-n', OPERATOR_NAMESPACE, '-o', 'jsonpath={.metadata.managedFields[*].operation}']);
      expect(managers.split(' ')).to.include('Apply');
      const image = k(['get', 'deployment', MANAGER_DEPLOYMENT, '-n', OPERATOR_NAMESPACE, '-o', 'jsonpath={.spec.template.spec.containers[0].image}']);
      expect(image).to.equal(IMG);
      // make deploy MEMCACHED_IMG=... (and build-installer) set the manager's default memcached image.
      const related = k(['get', 'deployment', MANAGER_DEPLOYMENT, '-n', OPERATOR_NAMESPACE, '-o', 'jsonpath={.spec.template.spec.containers[0].env[?(@.name=="RELATED_IMAGE_MEMCACHED")].value}']);
      expect(related).to.equal(process.env.MEMCACHED_IMG || DEFAULT_MEMCACHED_IMAGE);
    });

    it('brings the manager Deployment to Available under the restricted profile', async () => {
      await waitForCondition('deployment', MANAGER_DEPLOYMENT, OPERATOR_NAMESPACE, 'Available', 180_000);
      // The pod was admitted by PodSecurity "restricted" (enforced, not just warned).
      const pods = k(['get', 'pods', '-n', OPERATOR_NAMESPACE, '-l', 'control-plane=controller-manager', '-o', 'name']);
      expect(pods.trim().split('\n')).to.have.length(1);
    });

    it('gives the ServiceAccount exactly the checked-in rights (kubectl auth can-i --list)', () => {
      expect(canIList(OPERATOR_NAMESPACE)).to.deep.equal(expectedCanI('can-i-operator-namespace.txt'));
      expect(canIList('default')).to.deep.equal(expectedCanI('can-i-other-namespace.txt'));
    });

    it('those rights suffice: the operator as that ServiceAccount reconciles the sample to Available', async () => {
      sampleNamespace = restrictedNamespace('e2e-sample');
      if (!inCluster) operator = await runOperatorAs(OPERATOR_NAMESPACE, OPERATOR_SA);
      await sampleBecomesAvailable(sampleNamespace, () => operator?.output() ?? '');
      const nodes = k(['get', 'memcached', 'memcached-sample', '-n', sampleNamespace, '-o', 'jsonpath={.status.nodes}']);
      expect(nodes).to.not.equal('');
      // Leader election happened in the operator's own namespace.
      const leases = k(['get', 'leases', '-n', OPERATOR_NAMESPACE, '-o', 'name']);
      expect(leases).to.contain('memcached-operator-lock');
      // Deleted while the operator runs; there is no finalizer, so it goes at once and GC takes its children.
      k(['delete', 'memcached', 'memcached-sample', '-n', sampleNamespace, '--wait', '--timeout=120s']);
      await operator?.stop();
      operator = undefined;
    });

    it('removing it leaves nothing behind', async () => {
      const built = make('build-installer');
      expect(built.status, built.stderr).to.equal(0);
      rendered = readFileSync(path.join(repoRoot, 'dist', 'install.yaml'), 'utf8');
      expect(rendered).to.contain('kind: Deployment');
      const r = p.uninstall();
      expect(r.status, r.stderr).to.equal(0);
      await expectNothingLeft(rendered);
    });
  });
}
