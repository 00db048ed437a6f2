// OLM v0 on the kind bed, as a user drives it: make olm-install, the
// operator, bundle and catalog images published to the bed's registry with
// the Makefile's targets, then a CatalogSource, an OperatorGroup and a
// Subscription written as OLM's documentation shows them. Used by the OLM
// kind specs (9-olm.spec.ts).
import { expect } from 'chai';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { isConditionTrue } from '@memcached-operator/runtime';
import { eventually, repoRoot } from '../../support/cluster.js';
import type { Cluster } from '../../integration/topology/support.js';
import { IMG, clusterKubeconfig, k, kRun, kubectlJson, make, run, type Run } from '../support.js';
import { memcachedImage } from './support.js';

export const PACKAGE = 'memcached-operator';
export const CHANNEL = 'alpha';
/** Where OLM's catalog operator looks for cluster-wide CatalogSources. */
export const OLM_NAMESPACE = 'olm';

/** The bed's registry (make kind-up writes REGISTRY to images.env; make test-e2e exports it). */
export function registry(): string {
  const r = process.env.REGISTRY;
  if (!r) throw new Error('REGISTRY is not set: run the OLM specs through make test-e2e (it reads the kind bed\'s images.env), after make kind-up');
  return r;
}

/**
 * The environment the host's Go tools (operator-sdk, opm) need to reach the
 * bed's registry: it serves HTTPS from the bed's test CA, and SSL_CERT_FILE
 * (make kind-up writes REGISTRY_CA_BUNDLE: the system CAs plus that one) is
 * how they trust it.
 */
export function registryTlsEnv(): NodeJS.ProcessEnv {
  const bundle = process.env.REGISTRY_CA_BUNDLE;
  if (!bundle) throw new Error('REGISTRY_CA_BUNDLE is not set: make kind-up writes it to the kind bed\'s images.env (the registry\'s test CA)');
  return { ...process.env, SSL_CERT_FILE: bundle };
}

/** operator-sdk as a user runs it: the pinned build (test/cluster/build-olm-tools.sh), against the e2e cluster, trusting the bed's registry. */
export function operatorSdk(args: string[]): Run {
  const dir = run('test/cluster/build-olm-tools.sh', ['--dir']);
  ok('build-olm-tools.sh --dir', dir);
  return run(path.join(dir.stdout.trim(), 'operator-sdk'), [...args, '--kubeconfig', clusterKubeconfig()], { env: registryTlsEnv() });
}

export const operatorImage = (version: string): string => `${registry()}/memcached-operator:v${version}`;
export const bundleImage = (version: string): string => `${registry()}/memcached-operator-bundle:v${version}`;
export const catalogImage = (tag: string): string => `${registry()}/memcached-operator-catalog:${tag}`;

export function ok(what: string, r: { status: number; stdout: string; stderr: string }): void {
  expect(r.status, `${what} failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`).to.equal(0);
}

/**
 * A version the catalog publishes: built from this checkout (the e2e image
 * plus a label), or from a released commit's own tree (its Dockerfile, its
 * make bundle), so an upgrade test starts from what users really run.
 */
export interface Release {
  version: string;
  /** The commit whose tree builds this version; absent: this checkout. */
  commit?: string;
}

/**
 * The released 0.2.0: the last operator that runs memcached in a Deployment
 * (keep the cache moves its caches to the StatefulSet on upgrade).
 */
export const RELEASED_0_2_0: Release = { version: '0.2.0', commit: '2940ee76980683c38a3238c51ee7bb4ed086c4ab' };

/**
 * Installs OLM (make olm-install), builds and pushes each version's operator
 * image, and publishes each version's bundle (make bundle into .build/olm,
 * bundle-build, bundle-push: the committed bundle/ is left alone). Every
 * bundle names the bed's memcached image (MEMCACHED_IMG). Returns how long
 * each version took (image and bundle), in ms.
 */
export function publishBundles(releases: Release[]): Record<string, number> {
  ok('make olm-install', make('olm-install'));
  const ms: Record<string, number> = {};
  for (const release of releases) {
    const started = Date.now();
    const tree = release.commit ? releaseTree(release) : undefined;
    if (tree) buildReleasedImage(release.version, tree);
    else pushCheckoutImage(release.version);
    const vars = {
      VERSION: release.version,
      IMG: operatorImage(release.version),
      MEMCACHED_IMG: memcachedImage(),
      BUNDLE_DIR: `.build/olm/bundle-v${release.version}`,
      BUNDLE_IMG: bundleImage(release.version),
    };
    ok(`make bundle ${release.version}`, make('bundle', vars, tree));
    ok(`make bundle-build ${release.version}`, make('bundle-build', vars, tree));
    ok(`make bundle-push ${release.version}`, make('bundle-push', vars, tree));
    ms[release.version] = Date.now() - started;
  }
  return ms;
}

/**
 * Each checkout version's operator image is the e2e image plus a label: a new
 * image ID, never the e2e image under a second name. A Kubernetes 1.35+
 * kubelet (KubeletEnsureSecretPulledImages) that pulled an image ID from the
 * registry pulls it again under any other name a pod asks for, and the
 * kind-loaded e2e name (localhost/...) has no registry: make deploy after the
 * OLM tests would never roll out (ErrImagePull).
 */
function pushCheckoutImage(version: string): void {
  const dockerfile = `FROM ${IMG}\nLABEL org.opencontainers.image.version=${version}\n`;
  ok(`docker build ${operatorImage(version)}`, run('docker', ['build', '-q', '-t', operatorImage(version), '-'], { input: dockerfile }));
  ok(`docker push ${operatorImage(version)}`, run('docker', ['push', '-q', operatorImage(version)]));
}

/**
 * The released commit's tree under .build/olm (git archive: no worktree to
 * register or prune), with this checkout's node_modules linked in for its
 * make bundle (hack/generate-bundle.js reads YAML with the same package).
 */
function releaseTree(release: Release): string {
  const tree = path.join(repoRoot, '.build', 'olm', `src-v${release.version}`);
  rmSync(tree, { recursive: true, force: true });
  mkdirSync(tree, { recursive: true });
  const tar = `${tree}.tar`;
  ok(`git archive ${release.commit}`, run('git', ['archive', '--format=tar', '-o', tar, release.commit!]));
  ok(`extract ${release.commit}`, run('tar', ['-xf', tar, '-C', tree]));
  rmSync(tar);
  symlinkSync(path.join(repoRoot, 'node_modules'), path.join(tree, 'node_modules'));
  return tree;
}

/** The released tree's own make docker-build (on the bed's dockerd, its local bases), pushed to the bed's registry. */
function buildReleasedImage(version: string, tree: string): void {
  ok(`make docker-build ${version} (released tree)`, make('docker-build', { IMG: operatorImage(version) }, tree));
  ok(`docker push ${operatorImage(version)}`, run('docker', ['push', '-q', operatorImage(version)]));
}

/** make catalog-build catalog-push of the given (pushed) bundle versions, one upgrade chain; returns the catalog image. */
export function publishCatalog(tag: string, versions: string[]): string {
  const vars = {
    CATALOG_DIR: `.build/olm/catalog-${tag}`,
    CATALOG_BUNDLES: versions.map(bundleImage).join(' '),
    CATALOG_IMG: catalogImage(tag),
  };
  ok(`make catalog-build ${tag}`, make('catalog-build', vars));
  ok(`make catalog-push ${tag}`, make('catalog-push', vars));
  return catalogImage(tag);
}

/**
 * An index image with no package: the opm base (the bed's local build) with
 * the file-based catalog label and an empty /configs, pushed to the bed's
 * registry; returns its name. operator-sdk run bundle adds the bundle to
 * the index it is given, and v1.42.2 cannot add one to an index that holds
 * the bundle's package already (the catalog it generates then lacks the
 * package: "unknown package ... for channel").
 */
export function publishEmptyIndex(): string {
  const base = process.env.OPM_IMG;
  if (!base) throw new Error('OPM_IMG is not set: make kind-up writes it to the kind bed\'s images.env (the local opm image)');
  const image = `${registry()}/memcached-operator-index:empty`;
  const dockerfile = `FROM ${base}\nLABEL operators.operatorframework.io.index.configs.v1=/configs\nWORKDIR /configs\n`;
  ok(`docker build ${image}`, run('docker', ['build', '-q', '-t', image, '-'], { input: dockerfile }));
  ok(`docker push ${image}`, run('docker', ['push', '-q', image]));
  return image;
}

/** A CatalogSource in the olm namespace (cluster-wide), as OLM's docs write one; waits until its gRPC connection is READY. */
export async function applyCatalogSource(name: string, image: string): Promise<void> {
  k(['apply', '--server-side', '--force-conflicts', '-f', '-'], JSON.stringify({
    apiVersion: 'operators.coreos.com/v1alpha1',
    kind: 'CatalogSource',
    metadata: { name, namespace: OLM_NAMESPACE },
    spec: {
      sourceType: 'grpc',
      image,
      displayName: 'memcached-operator e2e',
      publisher: 'e2e',
      grpcPodConfig: { securityContextConfig: 'restricted' },
    },
  }));
  // READY alone can still be the previous image's registry pod: OLM starts
  // a pod for the new image and swaps only once it is Ready. A Subscription
  // made meanwhile resolves against the old content (CI once saw the upgrade
  // spec's 0.1.0 install go straight on to 0.2.0 from the previous catalog).
  type RegistryPod = { spec: { containers: { image: string }[] }; status?: { conditions?: { type: string; status: string }[] } };
  const servesImage = (p: RegistryPod): boolean =>
    p.spec.containers.some((c) => c.image === image) && isConditionTrue(p.status?.conditions, 'Ready');
  await eventually(
    `CatalogSource ${name} READY on ${image}`,
    () => {
      const cs = kubectlJson<{ status?: { connectionState?: { lastObservedState?: string } } }>(['get', 'catalogsource', name, '-n', OLM_NAMESPACE]);
      const pods = kubectlJson<{ items: RegistryPod[] }>(['get', 'pods', '-n', OLM_NAMESPACE, '-l', `olm.catalogSource=${name}`]).items;
      if (cs.status?.connectionState?.lastObservedState === 'READY' && pods.length > 0 && pods.every(servesImage)) return true;
      throw new Error(`state ${JSON.stringify(cs.status ?? {})}; pods: ${kRun(['get', 'pods', '-n', OLM_NAMESPACE, '-o', 'wide']).stdout}`);
    },
    { timeoutMs: 240_000, intervalMs: 1000 },
  );
}

export function deleteCatalogSource(name: string): void {
  kRun(['delete', 'catalogsource', name, '-n', OLM_NAMESPACE, '--ignore-not-found']);
}

/** An OperatorGroup: targetNamespaces undefined means AllNamespaces. */
export function applyOperatorGroup(namespace: string, targetNamespaces: string[] | undefined): void {
  k(['apply', '--server-side', '-f', '-'], JSON.stringify({
    apiVersion: 'operators.coreos.com/v1',
    kind: 'OperatorGroup',
    metadata: { name: 'memcached-operator', namespace },
    spec: targetNamespaces ? { targetNamespaces } : {},
  }));
}

export function applySubscription(namespace: string, source: string, startingCSV?: string): void {
  k(['apply', '--server-side', '-f', '-'], JSON.stringify({
    apiVersion: 'operators.coreos.com/v1alpha1',
    kind: 'Subscription',
    metadata: { name: PACKAGE, namespace },
    spec: {
      channel: CHANNEL,
      name: PACKAGE,
      source,
      sourceNamespace: OLM_NAMESPACE,
      installPlanApproval: 'Automatic',
      ...(startingCSV ? { startingCSV } : {}),
    },
  }));
}

interface Csv {
  metadata: { name: string };
  spec: { version: string };
  status?: { phase?: string; reason?: string; message?: string };
}

/** Waits for CSV name in namespace to reach Succeeded, with OLM's account of it on failure. */
export async function csvSucceeded(namespace: string, name: string, timeoutMs = 420_000): Promise<Csv> {
  return eventually(
    `CSV ${namespace}/${name} Succeeded`,
    () => {
      const r = kRun(['get', 'csv', name, '-n', namespace, '-o', 'json']);
      const csv = r.status === 0 ? (JSON.parse(r.stdout) as Csv) : undefined;
      if (csv?.status?.phase === 'Succeeded') return csv;
      const sub = kRun(['get', 'subscription', PACKAGE, '-n', namespace, '-o', 'jsonpath={.status.state} {.status.conditions}']).stdout;
      const ips = kRun(['get', 'installplan', '-n', namespace, '-o', 'jsonpath={range .items[*]}{.metadata.name} {.status.phase} {.status.conditions}{"\\n"}{end}']).stdout;
      throw new Error(`CSV: ${csv ? `${csv.status?.phase} ${csv.status?.reason}: ${csv.status?.message}` : 'absent'}; Subscription: ${sub}; InstallPlans: ${ips}`);
    },
    { timeoutMs, intervalMs: 2000 },
  );
}

/** The InstallPlans of a namespace: name, the CSVs they install, approval, phase. */
export function installPlans(namespace: string): { name: string; csvs: string[]; approval: string; phase: string }[] {
  const list = kubectlJson<{ items: { metadata: { name: string }; spec: { clusterServiceVersionNames: string[]; approval: string }; status?: { phase?: string } }[] }>(['get', 'installplan', '-n', namespace]);
  return list.items.map((ip) => ({ name: ip.metadata.name, csvs: ip.spec.clusterServiceVersionNames, approval: ip.spec.approval, phase: ip.status?.phase ?? '' }));
}

/** The operator's pods OLM runs in namespace, Running and Ready, with their images. */
export async function operatorPodsRunning(cluster: Cluster, namespace: string, image: string): Promise<string[]> {
  return eventually(
    `the operator pod in ${namespace} Running from ${image}`,
    async () => {
      const pods = (await cluster.core.listNamespacedPod({ namespace, labelSelector: 'control-plane=controller-manager' })).items.filter((p) => !p.metadata?.deletionTimestamp);
      const running = pods.filter(
        (p) => p.status?.phase === 'Running' && p.spec?.containers.find((c) => c.name === 'manager')?.image === image && isConditionTrue(p.status?.conditions, 'Ready'),
      );
      if (running.length > 0 && running.length === pods.length) return running.map((p) => p.metadata!.name!);
      throw new Error(pods.map((p) => `${p.metadata?.name} ${p.status?.phase} ${p.spec?.containers[0].image}`).join('; ') || 'no pods');
    },
    { timeoutMs: 240_000, intervalMs: 1000 },
  );
}

/**
 * Removes what a Subscription installed, the way round a user must: first the
 * Memcacheds in memcachedNamespaces while the operator still runs (it removes
 * their finalizers), then the Subscription and the CSV; waits until the CSV
 * and its copies are gone, so the next install starts clean.
 */
export async function uninstall(namespace: string, memcachedNamespaces: string[] = []): Promise<void> {
  for (const ns of memcachedNamespaces) {
    const r = kRun(['delete', 'memcacheds.cache.example.com', '--all', '-n', ns, '--wait=true', '--timeout=180s']);
    expect(r.status, `deleting the Memcacheds of ${ns} (the operator finalizes them): ${r.stderr}`).to.equal(0);
  }
  const csv = kRun(['get', 'subscription', PACKAGE, '-n', namespace, '-o', 'jsonpath={.status.installedCSV}']).stdout.trim();
  kRun(['delete', 'subscription', PACKAGE, '-n', namespace, '--ignore-not-found']);
  if (csv) {
    kRun(['delete', 'csv', csv, '-n', namespace, '--ignore-not-found', '--wait=true', '--timeout=120s']);
    await eventually(`copied CSVs of ${csv} gone`, () => {
      const left = kRun(['get', 'csv', '-A', '--field-selector', `metadata.name=${csv}`, '-o', 'name']).stdout.trim();
      if (!left) return true;
      throw new Error(left);
    }, { timeoutMs: 120_000, intervalMs: 1000 });
  }
}
