// Shared helpers for the topology integration suites: cluster set-up per
// profile, snapshots of a Memcached and its children read from the API, and
// checks on the operator process. Reads go through the API client (cheap to
// poll); writes that a user would make with kubectl go through kubectl.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { findCondition, isConditionTrue } from '@memcached-operator/runtime';
import { expect } from 'chai';
import type { Memcached } from '../../../src/api/types.js';
import { INSTANCE_LABEL } from '../../../src/memcached/children/metadata.js';
import { ARBITER_LABEL } from '../../../src/topology/detect.js';
import { ensureCluster, kubectl, repoRoot, type Profile } from '../../support/cluster.js';
import { crdFile } from '../../support/memcached.js';
import type { OperatorProcess } from '../../support/operator.js';

export { ARBITER_LABEL, INSTANCE_LABEL };
export { condition } from '../../support/memcached.js';
export const INFRASTRUCTURE = { group: 'config.openshift.io', version: 'v1', plural: 'infrastructures', name: 'cluster' };

export type AntiAffinityKind = 'None' | 'Preferred' | 'Required';

/** Starts (or reuses) the profile's cluster and installs the Memcached CRD. */
export function useCluster(profile: Profile): k8s.KubeConfig {
  const kc = ensureCluster(profile);
  kubectl(['apply', '--server-side', '--force-conflicts', '-f', crdFile]);
  // Not `kubectl wait`: it fails at once on a CRD that has no conditions yet.
  // The operator waits for the API itself, so this only saves it a retry.
  const deadline = Date.now() + 30_000;
  const established = (): boolean =>
    kubectl(['get', 'crd', 'memcacheds.cache.example.com', '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']) === 'True';
  while (!established()) {
    if (Date.now() > deadline) throw new Error('the Memcached CRD was not Established within 30 s');
    execFileSync('sleep', ['0.2']);
  }
  return kc;
}

/** A brand-new cluster of the profile, for suites that change cluster-wide objects. */
export function freshCluster(profile: Profile): k8s.KubeConfig {
  removeCluster();
  return useCluster(profile);
}

/** Stops the cluster and removes its state (CLUSTER_STATE_DIR is passed on). */
export function removeCluster(): void {
  execFileSync(path.join(repoRoot, 'test', 'cluster', 'cluster.sh'), ['down'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export function antiAffinityOf(d: k8s.V1StatefulSet | undefined): AntiAffinityKind {
  const anti = d?.spec?.template?.spec?.affinity?.podAntiAffinity;
  if (anti?.requiredDuringSchedulingIgnoredDuringExecution?.length) return 'Required';
  if (anti?.preferredDuringSchedulingIgnoredDuringExecution?.length) return 'Preferred';
  return 'None';
}

function isNotFound(err: unknown): boolean {
  return err instanceof k8s.ApiException && err.code === 404;
}

/** Ready and not on its way out (a deleted pod can still report Ready for a moment). */
export function isPodReady(pod: k8s.V1Pod): boolean {
  return !pod.metadata?.deletionTimestamp && isConditionTrue(pod.status?.conditions, 'Ready');
}

/** One line per pod, for a failure message that says what the cluster was doing. */
export function describePods(pods: k8s.V1Pod[]): string {
  return pods
    .map((p) => {
      const owner = p.metadata?.ownerReferences?.[0]?.name ?? 'no owner';
      const scheduled = findCondition(p.status?.conditions, 'PodScheduled');
      const why = scheduled?.status === 'False' ? ` (${scheduled.reason}: ${scheduled.message})` : '';
      return `${p.metadata?.name} of ${owner} on ${p.spec?.nodeName ?? 'no node'}, ${p.status?.phase}, ready=${isPodReady(p)}${why}`;
    })
    .join('; ');
}

/** Everything about one Memcached that the topology decides, read from the API. */
export interface Snapshot {
  mc: Memcached | undefined;
  statefulSet: k8s.V1StatefulSet | undefined;
  pdb: k8s.V1PodDisruptionBudget | undefined;
  /** Pods of the Memcached that are not being deleted. */
  pods: k8s.V1Pod[];
  replicas: number | undefined;
  readyReplicas: number;
  antiAffinity: AntiAffinityKind;
  zoneSpread: boolean;
}

export class Cluster {
  readonly apps: k8s.AppsV1Api;
  readonly core: k8s.CoreV1Api;
  readonly policy: k8s.PolicyV1Api;
  readonly custom: k8s.CustomObjectsApi;

  constructor(readonly kc: k8s.KubeConfig) {
    this.apps = kc.makeApiClient(k8s.AppsV1Api);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.policy = kc.makeApiClient(k8s.PolicyV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  async createMemcached(namespace: string, name: string, spec: Record<string, unknown> = {}): Promise<void> {
    await this.custom.createNamespacedCustomObject({
      group: 'cache.example.com',
      version: 'v1alpha1',
      namespace,
      plural: 'memcacheds',
      body: { apiVersion: 'cache.example.com/v1alpha1', kind: 'Memcached', metadata: { name }, spec },
    });
  }

  async memcached(namespace: string, name: string): Promise<Memcached | undefined> {
    try {
      return (await this.custom.getNamespacedCustomObject({
        group: 'cache.example.com',
        version: 'v1alpha1',
        namespace,
        plural: 'memcacheds',
        name,
      })) as Memcached;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async statefulSet(namespace: string, name: string): Promise<k8s.V1StatefulSet | undefined> {
    return this.apps.readNamespacedStatefulSet({ namespace, name }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  }

  async pdb(namespace: string, name: string): Promise<k8s.V1PodDisruptionBudget | undefined> {
    return this.policy.readNamespacedPodDisruptionBudget({ namespace, name }).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  }

  async pods(namespace: string, name: string): Promise<k8s.V1Pod[]> {
    const list = await this.core.listNamespacedPod({ namespace, labelSelector: `${INSTANCE_LABEL}=${name}` });
    return list.items.filter((p) => !p.metadata?.deletionTimestamp);
  }

  async snapshot(namespace: string, name: string): Promise<Snapshot> {
    const [mc, statefulSet, pdb, pods] = await Promise.all([
      this.memcached(namespace, name),
      this.statefulSet(namespace, name),
      this.pdb(namespace, name),
      this.pods(namespace, name),
    ]);
    return {
      mc,
      statefulSet,
      pdb,
      pods,
      replicas: statefulSet?.spec?.replicas,
      readyReplicas: statefulSet?.status?.readyReplicas ?? 0,
      antiAffinity: antiAffinityOf(statefulSet),
      zoneSpread: (statefulSet?.spec?.template?.spec?.topologySpreadConstraints ?? []).some(
        (c) => c.topologyKey === 'topology.kubernetes.io/zone',
      ),
    };
  }

  async nodeNames(): Promise<string[]> {
    return (await this.core.listNode()).items.map((n) => n.metadata!.name!).sort();
  }

  async infrastructure(): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.custom.getClusterCustomObject(INFRASTRUCTURE)) as Record<string, unknown>;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Merge-patches the status subresource of Infrastructure "cluster", as the installer does. */
  async patchInfrastructureStatus(status: Record<string, unknown>): Promise<void> {
    await this.custom.patchClusterCustomObjectStatus(
      { ...INFRASTRUCTURE, body: { status } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  }

  /** Events about one object, newest last. */
  async eventsFor(namespace: string, name: string): Promise<k8s.CoreV1Event[]> {
    const list = await this.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
    return list.items;
  }
}

/** The value of a printer column as `kubectl get` shows it (the column may be empty elsewhere in the row). */
export function printerColumn(namespace: string, name: string, column: string): string {
  const [header, row] = kubectl(['get', 'memcacheds.cache.example.com', '-n', namespace, name]).split('\n');
  const start = header.indexOf(column.toUpperCase());
  if (start < 0) throw new Error(`no ${column} column in: ${header}`);
  return row.slice(start).split(/\s+/)[0];
}

/** The operator is still running and /healthz answers 200. */
export async function expectHealthy(op: OperatorProcess): Promise<void> {
  expect(op.child.exitCode, `the operator exited:\n${op.output().slice(-3000)}`).to.equal(null);
  expect(op.child.signalCode).to.equal(null);
  const res = await fetch(`http://127.0.0.1:${op.healthPort}/healthz`);
  expect(res.status, 'GET /healthz').to.equal(200);
}

/** Log lines with the given msg. */
export function logLines(op: OperatorProcess, msg: string | RegExp): Array<Record<string, unknown>> {
  return op.logs().filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(String(l.msg))));
}

/** Warning log lines of the topology watcher that mention the pattern in one of their warnings. */
export function topologyWarnings(op: OperatorProcess, pattern: RegExp): Array<Record<string, unknown>> {
  return op
    .logs()
    .filter(
      (l) =>
        l.level === 'warn' &&
        l.component === 'topology' &&
        (pattern.test(String(l.msg)) || (Array.isArray(l.warnings) && l.warnings.some((w) => pattern.test(String(w))))),
    );
}

/**
 * Errors the operator logged about objects in the namespace (there should be
 * none). Other namespaces are left out: a reused cluster may still hold a
 * terminating namespace of an earlier suite, whose writes are refused.
 */
export function errorLines(op: OperatorProcess, namespace: string): Array<Record<string, unknown>> {
  return op.logs().filter((l) => l.level === 'error' && (l.namespace === undefined || l.namespace === namespace));
}

/** A fake node like the ones cluster.sh creates, which kwok marks Ready. */
export function fakeNodeManifest(name: string, labels: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        ...labels,
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: '16', memory: '64Gi', pods: '110' },
      capacity: { cpu: '16', memory: '64Gi', pods: '110' },
      nodeInfo: { architecture: 'amd64', operatingSystem: 'linux', kubeletVersion: 'fake' },
    },
  });
}

/** Measures how long something took, for the report. */
export function since(start: number): number {
  return Date.now() - start;
}

export interface Observation {
  at: number;
  replicas: number;
  readyReplicas: number;
  antiAffinity: AntiAffinityKind;
}

/** Records every version of one StatefulSet, from a watch. */
export class StatefulSetRecorder {
  readonly seen: Observation[] = [];
  private abort: AbortController | undefined;
  private failed: unknown;

  constructor(private readonly kc: k8s.KubeConfig, private readonly namespace: string, private readonly name: string) {}

  async start(): Promise<void> {
    this.abort = await new k8s.Watch(this.kc).watch(
      `/apis/apps/v1/namespaces/${this.namespace}/statefulsets`,
      { fieldSelector: `metadata.name=${this.name}` },
      (type: string, d: k8s.V1StatefulSet) => {
        if (type !== 'ADDED' && type !== 'MODIFIED') return;
        this.seen.push({
          at: Date.now(),
          replicas: d.spec?.replicas ?? 0,
          readyReplicas: d.status?.readyReplicas ?? 0,
          antiAffinity: antiAffinityOf(d),
        });
      },
      (err: unknown) => {
        if (err && !this.abort?.signal.aborted) this.failed = err;
      },
    );
  }

  stop(): void {
    this.abort?.abort();
  }

  /** Throws if the watch ended early: the record would have a gap. */
  check(): void {
    if (this.failed) throw new Error(`the StatefulSet watch failed: ${this.failed instanceof Error ? this.failed.message : JSON.stringify(this.failed)}`);
  }

  since(t: number): Observation[] {
    return this.seen.filter((o) => o.at >= t);
  }
}
