// Watches what decides the cluster's topology: the OpenShift Infrastructure
// object "cluster" (when the API exists) and the nodes. It is an informer,
// not a one-time read, because topology changes at runtime (a SingleReplica
// cluster grows; nodes come and go). Every change that could alter a
// placement calls the onChange listeners, which re-enqueue every Memcached.
//
// Bad input never crashes it: a missing CRD, a missing object, missing RBAC
// or an apiserver outage each leave a sane default (count nodes) and a clear
// warning that the reconciler reports as a condition.
import type * as k8s from '@kubernetes/client-node';
import { clientFor, errorMessage, findCondition, OptionalInformer, ResilientInformer, type Clock, type Logger, type ResourceDescriptor } from '@memcached-operator/runtime';
import { clusterTopology, topologyFromInfrastructure } from './detect.js';
import type { ClusterView } from './types.js';

export const INFRASTRUCTURE_RESOURCE: ResourceDescriptor = {
  apiVersion: 'config.openshift.io/v1',
  kind: 'Infrastructure',
  plural: 'infrastructures',
  namespaced: false,
};
export const NODE_RESOURCE: ResourceDescriptor = { apiVersion: 'v1', kind: 'Node', plural: 'nodes', namespaced: false };
export const INFRASTRUCTURE_NAME = 'cluster';

/** Pure: the fields of a node that can change a placement. */
export function nodeFingerprint(node: k8s.V1Node): string {
  const ready = findCondition(node.status?.conditions, 'Ready')?.status ?? 'Unknown';
  const taints = (node.spec?.taints ?? []).map((t) => `${t.key}=${t.value ?? ''}:${t.effect}`).sort();
  const labels = Object.entries(node.metadata?.labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  return JSON.stringify([node.metadata?.name, ready, node.spec?.unschedulable ?? false, taints, labels]);
}

/**
 * Pure: what the Infrastructure object says about the topology, warnings
 * included, so that any change of what detection reads or reports (a value,
 * or a status that appears, disappears or changes shape) counts as a change.
 */
export function infrastructureFingerprint(obj: unknown): string {
  if (obj === undefined) return 'absent';
  const { controlPlane, infrastructure, warnings } = topologyFromInfrastructure(obj);
  return JSON.stringify([controlPlane, infrastructure, warnings]);
}

export interface TopologyWatcherOptions {
  kubeConfig: k8s.KubeConfig;
  logger: Logger;
  resyncPeriodMs?: number;
  /** How often to look again for the Infrastructure API (it may be installed, removed or forbidden at any time). */
  probeIntervalMs?: number;
  clock?: Clock;
}

export class TopologyWatcher implements ClusterView {
  readonly nodeInformer: ResilientInformer<k8s.V1Node>;
  private readonly infraInformer: OptionalInformer<k8s.KubernetesObject>;
  private readonly listeners: Array<() => void> = [];
  private readonly logger: Logger;
  private stopped = false;
  private starting: Promise<void> | undefined;
  private lastFingerprint = '';
  private lastWarnings = '';

  constructor(options: TopologyWatcherOptions) {
    this.logger = options.logger.child({ component: 'topology' });
    const api = clientFor(options.kubeConfig);
    const changed = (): void => this.maybeNotify();
    this.nodeInformer = new ResilientInformer<k8s.V1Node>({
      kubeConfig: options.kubeConfig,
      resource: NODE_RESOURCE,
      logger: options.logger,
      resyncPeriodMs: 0,
    });
    this.nodeInformer.addEventHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
    this.infraInformer = new OptionalInformer<k8s.KubernetesObject>({
      kubeConfig: options.kubeConfig,
      resource: INFRASTRUCTURE_RESOURCE,
      logger: options.logger,
      resyncPeriodMs: 0,
      probe: () => api.get(`/apis/config.openshift.io/v1/${INFRASTRUCTURE_RESOURCE.plural}`, { query: { limit: 1 } }),
      ...(options.probeIntervalMs !== undefined ? { probeIntervalMs: options.probeIntervalMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.infraInformer.addEventHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
    // Events during the initial list are not reported (see maybeNotify): the
    // API's appearing (cache filled) or going away is.
    this.infraInformer.onChange(changed);
  }

  /** Registers a listener called when anything that can change a placement changed. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * Resolves once nodes are cached and the Infrastructure API has been probed
   * (and cached, if present). Idempotent: main.ts starts the watcher early to
   * pick leader-election timings and the manager starts it again; a second
   * call must not start a second probe loop (or a second informer).
   */
  start(): Promise<void> {
    this.starting ??= (async () => {
      this.nodeInformer.start();
      this.infraInformer.start();
      await Promise.all([this.nodeInformer.synced, this.infraInformer.synced]);
      this.maybeNotify();
    })();
    return this.starting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.nodeInformer.stop(), this.infraInformer.stop()]);
  }

  hasSynced(): boolean {
    return this.nodeInformer.hasSynced() && this.infraInformer.hasSynced();
  }

  infrastructure(): unknown {
    return this.infraInformer.get('', INFRASTRUCTURE_NAME);
  }

  isOpenShift(): boolean {
    return this.infraInformer.apiState() === 'present';
  }

  nodes(): k8s.V1Node[] {
    return this.nodeInformer.list();
  }

  /** Why detection fell back to counting nodes, if it did for a reason worth reporting. */
  warnings(): string[] {
    switch (this.infraInformer.apiState()) {
      case 'forbidden':
        return [
          'cannot read config.openshift.io/v1 Infrastructure "cluster" (RBAC forbids get/list/watch on infrastructures); sizing by schedulable nodes instead',
        ];
      case 'present':
        return this.infrastructure() === undefined
          ? ['the Infrastructure API exists but the object "cluster" does not; sizing by schedulable nodes instead']
          : [];
      default:
        return [];
    }
  }

  /**
   * One info line with the topology as detected (before any per-object
   * tolerations or override), and one warning line whenever the reasons it
   * had to be assumed change: the warnings the reconciler also reports as the
   * TopologyDetected condition.
   */
  private logTopology(first: boolean): void {
    const { topology, warnings: detectionWarnings } = clusterTopology({
      infrastructure: this.infrastructure(),
      nodes: this.nodes(),
    });
    const warnings = [...this.warnings(), ...detectionWarnings];
    this.logger.info(first ? 'cluster topology detected' : 'cluster topology inputs changed; re-reconciling every Memcached', {
      controlPlane: topology.controlPlane,
      infrastructure: topology.infrastructure,
      source: topology.source,
      schedulableNodes: topology.schedulableNodes,
      zones: topology.zones,
      infrastructureApi: this.infraInformer.apiState(),
    });
    const key = JSON.stringify(warnings);
    if (key === this.lastWarnings) return;
    this.lastWarnings = key;
    if (warnings.length > 0) {
      this.logger.warn('cluster topology assumed, not read: using a default', { warnings });
    } else if (!first) {
      this.logger.info('cluster topology read without problems again');
    }
  }

  private maybeNotify(): void {
    // Nothing is reported while the caches fill: a half-listed node set would
    // log (and size for) a topology the cluster never had.
    if (this.stopped || !this.hasSynced()) return;
    const fingerprint = JSON.stringify([
      this.infraInformer.apiState(),
      infrastructureFingerprint(this.infrastructure()),
      this.nodes().map(nodeFingerprint).sort(),
    ]);
    if (fingerprint === this.lastFingerprint) return;
    const first = this.lastFingerprint === '';
    this.lastFingerprint = fingerprint;
    this.logTopology(first);
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.logger.error('topology listener failed', { error: errorMessage(err) });
      }
    }
  }
}
