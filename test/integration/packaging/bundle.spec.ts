// The OLM bundle and the kustomize layouts, checked offline:
// - make bundle's generator is deterministic, and bundle/ as committed is
//   exactly its output (nobody edited it by hand);
// - operator-sdk bundle validate --select-optional suite=operatorframework
//   passes with no errors and no warnings;
// - the CSV carries what OLM and OperatorHub need, its RBAC is config/rbac's,
//   and the manager Deployment meets the restricted Pod Security Standard.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { repoRoot, toolsBin } from '../../support/cluster.js';


/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-argument -- parsed manifests are checked field by field */
type Obj = any;

const VERSION = '0.1.0';
const IMG = `quay.io/example/memcached-operator:v${VERSION}`;
const CREATED_AT = '2026-11-23T00:00:00Z';

function makeVar(name: string): string {
  return execFileSync('make', ['--no-print-directory', '-s', '-f', 'Makefile', '-f', '-', 'print'], {
    cwd: repoRoot,
    encoding: 'utf8',
    input: `print:\n\t@echo $(${name})\n`,
  }).trim();
}

function generate(output: string): void {
  execFileSync(
    process.execPath,
    [
      path.join(repoRoot, 'hack', 'generate-bundle.js'),
      '--version', VERSION, '--img', IMG, '--channels', 'alpha', '--default-channel', 'alpha',
      '--created-at', CREATED_AT, '--output', output, '--dockerfile', `${output}.Dockerfile`,
    ],
    { cwd: repoRoot, env: { ...process.env, KUBECTL: path.join(toolsBin(), 'kubectl') }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
}

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(path.relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

function render(dir: string): Obj[] {
  const out = execFileSync(path.join(repoRoot, 'hack', 'render.sh'), [dir, IMG], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, KUBECTL: path.join(toolsBin(), 'kubectl') },
  });
  return parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
}

describe('packaging', function () {
  this.timeout(900_000);

  it('the Makefile defaults match the committed bundle (VERSION, IMG, channels, createdAt)', () => {
    expect(makeVar('VERSION')).to.equal(VERSION);
    expect(makeVar('IMG')).to.equal(IMG);
    expect(makeVar('CHANNELS')).to.equal('alpha');
    expect(makeVar('DEFAULT_CHANNEL')).to.equal('alpha');
    expect(makeVar('BUNDLE_CREATED_AT')).to.equal(CREATED_AT);
  });

  describe('bundle', () => {
    let tmp = '';
    let csv: Obj;
    before(() => {
      tmp = mkdtempSync(path.join(os.tmpdir(), 'bundle-'));
      generate(path.join(tmp, 'a'));
      csv = parseYaml(readFileSync(path.join(repoRoot, 'bundle', 'manifests', 'memcached-operator.clusterserviceversion.yaml'), 'utf8'));
    });
    after(() => rmSync(tmp, { recursive: true, force: true }));

    it('is generated deterministically, and the committed bundle/ is that output', () => {
      generate(path.join(tmp, 'b'));
      const a = tree(path.join(tmp, 'a'));
      expect(tree(path.join(tmp, 'b'))).to.deep.equal(a);
      expect(tree(path.join(repoRoot, 'bundle')), 'bundle/ differs from make bundle output: run make bundle').to.deep.equal(a);
      // The Dockerfile copies from the directory it was generated for (BUNDLE_DIR): here a temporary one.
      const generated = readFileSync(path.join(tmp, 'a.Dockerfile'), 'utf8').replaceAll(`${path.join(tmp, 'a')}/`, 'bundle/');
      expect(readFileSync(path.join(repoRoot, 'bundle.Dockerfile'), 'utf8')).to.equal(generated);
    });

    it('passes operator-sdk bundle validate with the operatorframework suite, with no errors and no warnings', () => {
      const bin = execFileSync(path.join(repoRoot, 'test', 'cluster', 'build-olm-tools.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
      const r = spawnSync(path.join(repoRoot, 'hack', 'validate-bundle.sh'), [path.join(bin, 'operator-sdk'), path.join(tmp, 'a')], { encoding: 'utf8' });
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
      expect(r.stdout).to.contain('passed with no errors and no warnings');
      expect(r.stdout).to.not.match(/^(warning|error):/m);
    });

    it('has matching labels in metadata/annotations.yaml and bundle.Dockerfile', () => {
      const annotations = (parseYaml(readFileSync(path.join(repoRoot, 'bundle', 'metadata', 'annotations.yaml'), 'utf8'))).annotations as Record<string, string>;
      const labels = Object.fromEntries(
        readFileSync(path.join(repoRoot, 'bundle.Dockerfile'), 'utf8')
          .split('\n')
          .filter((l) => l.startsWith('LABEL '))
          .map((l) => l.slice(6).split('=') as [string, string]),
      );
      expect(labels).to.deep.equal(annotations);
      expect(annotations['operators.operatorframework.io.bundle.package.v1']).to.equal('memcached-operator');
      expect(annotations['operators.operatorframework.io.bundle.mediatype.v1']).to.equal('registry+v1');
      expect(annotations['operators.operatorframework.io.test.config.v1']).to.equal('tests/scorecard/');
      const scorecard = parseYaml(readFileSync(path.join(repoRoot, 'bundle', 'tests', 'scorecard', 'config.yaml'), 'utf8'));
      expect(scorecard.kind).to.equal('Configuration');
      expect(scorecard.stages[0].tests.map((t: Obj) => t.labels.test)).to.include('olm-bundle-validation-test');
    });

    it('describes the operator for OperatorHub, truthfully', () => {
      const a = csv.metadata.annotations as Record<string, string>;
      expect(csv.metadata.name).to.equal(`memcached-operator.v${VERSION}`);
      expect(csv.spec.version).to.equal(VERSION);
      expect(a.capabilities).to.equal('Auto Pilot');
      expect(a.containerImage).to.equal(IMG);
      expect(a.createdAt).to.equal(CREATED_AT);
      expect(a['operatorframework.io/suggested-namespace']).to.equal('memcached-operator-system');
      for (const key of ['categories', 'repository', 'support', 'description']) expect(a[key], key).to.be.a('string').and.not.equal('');
      const features = ['disconnected', 'fips-compliant', 'proxy-aware', 'tls-profiles', 'token-auth-aws', 'token-auth-azure', 'token-auth-gcp', 'cnf', 'cni', 'csi'];
      for (const f of features) expect(a[`features.operators.openshift.io/${f}`], f).to.be.oneOf(['true', 'false']);
      for (const key of ['displayName', 'description', 'keywords', 'maintainers', 'provider', 'links', 'minKubeVersion']) expect(csv.spec[key], key).to.not.equal(undefined);
      expect(csv.spec.maturity).to.equal('alpha');
      expect(csv.spec.icon[0].mediatype).to.equal('image/svg+xml');
      expect(Buffer.from(csv.spec.icon[0].base64data, 'base64').toString()).to.match(/^<svg /);
      expect(csv.spec.relatedImages.map((r: Obj) => r.name).sort()).to.deep.equal(['memcached', 'memcached-operator']);
      const examples = JSON.parse(a['alm-examples']) as Obj[];
      expect(examples.map((e) => e.kind)).to.deep.equal(['Memcached']);
    });

    it('claims exactly the install modes the OLM proof exercises', () => {
      const modes = (csv.spec.installModes as Obj[]).filter((m) => m.supported).map((m) => m.type).sort();
      expect(modes).to.deep.equal(['AllNamespaces', 'MultiNamespace', 'OwnNamespace', 'SingleNamespace']);
    });

    it('owns the CRD with spec and status descriptors and resources, each path in the schema', () => {
      const owned = csv.spec.customresourcedefinitions.owned as Obj[];
      expect(owned.map((o) => o.name)).to.deep.equal(['memcacheds.cache.example.com']);
      const crd = parseYaml(readFileSync(path.join(repoRoot, 'bundle', 'manifests', 'cache.example.com_memcacheds.yaml'), 'utf8'));
      const schema = crd.spec.versions.find((v: Obj) => v.storage).schema.openAPIV3Schema.properties;
      const has = (root: Obj, p: string) => p.split('.').reduce<Obj>((s, part) => s?.properties?.[part], root) !== undefined;
      for (const d of owned[0].specDescriptors) expect(has(schema.spec, d.path), `spec.${d.path}`).to.equal(true);
      for (const d of owned[0].statusDescriptors) expect(has(schema.status, d.path), `status.${d.path}`).to.equal(true);
      expect(owned[0].resources.map((r: Obj) => r.kind)).to.include.members(['StatefulSet', 'Service', 'ConfigMap', 'PodDisruptionBudget']);
    });

    it('derives permissions, clusterPermissions and the deployment from config/', () => {
      const objects = render('config/default');
      const byName = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
      const spec = csv.spec.install.spec;
      expect(spec.clusterPermissions).to.deep.equal([
        { serviceAccountName: 'memcached-operator-controller-manager', rules: byName('ClusterRole', 'memcached-operator-manager-role').rules },
      ]);
      expect(spec.permissions).to.deep.equal([
        { serviceAccountName: 'memcached-operator-controller-manager', rules: byName('Role', 'memcached-operator-leader-election-role').rules },
      ]);
      const deployment = byName('Deployment', 'memcached-operator-controller-manager');
      expect(spec.deployments).to.deep.equal([{ name: deployment.metadata.name, label: deployment.metadata.labels, spec: deployment.spec }]);
      // The aggregated roles, the metrics Service and the operator's alerts ship as bundle objects.
      const files = readdirSync(path.join(repoRoot, 'bundle', 'manifests')).sort();
      expect(files).to.include.members([
        'memcached-operator-memcached-admin-role_rbac.authorization.k8s.io_v1_clusterrole.yaml',
        'memcached-operator-memcached-editor-role_rbac.authorization.k8s.io_v1_clusterrole.yaml',
        'memcached-operator-memcached-viewer-role_rbac.authorization.k8s.io_v1_clusterrole.yaml',
        'memcached-operator-controller-manager-metrics-service_v1_service.yaml',
        'memcached-operator-alerts_monitoring.coreos.com_v1_prometheusrule.yaml',
      ]);
    });
  });

  describe('kustomize layouts', () => {
    const objects = () => render('config/default');

    it('grants no wildcard and no right to create CRDs', () => {
      for (const o of objects().filter((x) => x.kind === 'ClusterRole' || x.kind === 'Role')) {
        for (const rule of o.rules as Obj[]) {
          // A non-resource rule (metrics-reader's /metrics) has no apiGroups or resources.
          for (const field of ['apiGroups', 'resources', 'verbs', 'nonResourceURLs']) expect(rule[field] ?? [], `${o.metadata.name} ${field}`).to.not.include('*');
          if (((rule.apiGroups ?? []) as string[]).includes('apiextensions.k8s.io')) expect.fail(`${o.metadata.name} touches CRDs`);
        }
      }
    });

    it('keeps the leader-election lock (leases, deleting configmaps) to the operator namespace (a Role)', () => {
      const all = objects();
      const clusterRules = all.filter((o) => o.kind === 'ClusterRole').flatMap((o) => (o.rules as Obj[]).filter((r) => r.resources));
      expect(clusterRules.filter((r) => r.resources.includes('leases'))).to.deep.equal([]);
      // Every namespace's server list (<name>-servers) is written, never deleted or updated: the lock's verbs stay in the Role.
      const configMaps = clusterRules.filter((r) => r.resources.includes('configmaps'));
      expect(configMaps.map((r) => [...r.verbs].sort())).to.deep.equal([['create', 'get', 'list', 'patch', 'watch']]);
      // Pods are patched and deleted cluster-wide: the servers change in place or are replaced one at a time.
      const pods = clusterRules.filter((r) => r.resources.includes('pods'));
      expect(pods.map((r) => [...r.verbs].sort())).to.deep.equal([['delete', 'list', 'patch', 'watch']]);
      const role = all.find((o) => o.kind === 'Role');
      expect(role.metadata.namespace).to.equal('memcached-operator-system');
      expect(role.rules).to.deep.include({ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'create', 'delete'] });
    });

    it('lets the manager review tokens and access for /metrics, and ships a metrics-reader role for scrapers', () => {
      const all = objects();
      const reader = all.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'memcached-operator-metrics-reader');
      expect(reader.rules).to.deep.equal([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
      const manager = all.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'memcached-operator-manager-role');
      expect(manager.rules).to.deep.include({ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] });
      expect(manager.rules).to.deep.include({ apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] });
      const service = all.find((o) => o.kind === 'Service' && o.metadata.name === 'memcached-operator-controller-manager-metrics-service');
      expect(service.spec.ports[0].port).to.equal(8443);
    });

    it('aggregates admin, editor and viewer roles for memcacheds', () => {
      const labels = objects()
        .filter((o) => o.kind === 'ClusterRole')
        .flatMap((o) => Object.keys(o.metadata.labels ?? {}).filter((l) => l.startsWith('rbac.authorization.k8s.io/aggregate-to-')))
        .sort();
      expect(labels).to.deep.equal(['rbac.authorization.k8s.io/aggregate-to-admin', 'rbac.authorization.k8s.io/aggregate-to-edit', 'rbac.authorization.k8s.io/aggregate-to-view']);
    });

    it('runs the manager under the restricted profile with probes, limits and the documented env', () => {
      const all = objects();
      const ns = all.find((o) => o.kind === 'Namespace');
      expect(ns.metadata.name).to.equal('memcached-operator-system');
      expect(ns.metadata.labels['pod-security.kubernetes.io/enforce']).to.equal('restricted');
      const d = all.find((o) => o.kind === 'Deployment');
      const pod = d.spec.template.spec;
      const c = pod.containers[0];
      expect(pod.securityContext.runAsNonRoot).to.equal(true);
      expect(pod.securityContext.runAsUser).to.equal(undefined);
      expect(c.securityContext?.runAsUser).to.equal(undefined);
      expect(pod.securityContext.seccompProfile.type).to.equal('RuntimeDefault');
      expect(c.securityContext).to.deep.equal({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(pod.terminationGracePeriodSeconds).to.be.a('number');
      expect(c.livenessProbe.httpGet.path).to.equal('/healthz');
      expect(c.readinessProbe.httpGet.path).to.equal('/readyz');
      expect(c.resources.requests).to.have.keys('cpu', 'memory');
      expect(c.resources.limits).to.have.keys('cpu', 'memory');
      expect(c.args).to.include('--leader-elect');
      expect(c.image).to.equal(IMG);
      expect((c.env as Obj[]).map((e) => e.name)).to.include.members(['POD_NAME', 'POD_NAMESPACE', 'RELATED_IMAGE_MEMCACHED', 'WATCH_NAMESPACE']);
    });

    it('renders the opt-in ServiceMonitor and NetworkPolicies (metrics on 8443, the exporter on 9150)', () => {
      const monitor = render('config/prometheus');
      expect(monitor.map((o) => o.kind)).to.deep.equal(['ServiceMonitor']);
      expect(monitor[0].spec.endpoints[0].port).to.equal('metrics');
      expect(monitor[0].spec.endpoints[0].scheme).to.equal('https');
      const policies = render('config/network-policy');
      expect(policies.map((o) => o.kind)).to.deep.equal(['NetworkPolicy', 'NetworkPolicy']);
      expect(policies.map((p) => p.spec.ingress[0].ports[0].port).sort()).to.deep.equal([8443, 9150]);
    });
  });
});
