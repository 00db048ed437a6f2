// Watches what decides the cluster's topology: the OpenShift Infrastructure
// object "cluster" (when the API exists) and the nodes. It is an informer,
// not a one-time read, because topology changes at runtime (a SingleReplica
// cluster grows; nodes come and go). Every change that could alter a
// placement calls the onChange listeners, which re-enqueue every Memcached.
//
// Bad input never crashes it: a missing CRD, a missing object, missing RBAC
// or an apiserver outage each leave a sane default (count nodes) and a clear
// warning that the reconciler reports as a condition.
import * as k8s from '@kubernetes/client-node';
import { errorMessage, findCondition, realClock, ResilientInformer, statusCode, type Clock, type Logger, type ResourceDescriptor } from '@memcached-operator/runtime';
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

/** What the Infrastructure API looks like from here. */
export type InfrastructureApiState = 'unknown' | 'absent' | 'forbidden' | 'present';

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
  /** How often to look again for an absent or forbidden Infrastructure API. */
  probeIntervalMs?: number;
  clock?: Clock;
}

export class TopologyWatcher implements ClusterView {
  readonly nodeInformer: ResilientInformer<k8s.V1Node>;
  private infraInformer: ResilientInformer<k8s.KubernetesObject> | undefined;
  private apiState: InfrastructureApiState = 'unknown';
  private readonly listeners: Array<() => void> = [];
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly custom: k8s.CustomObjectsApi;
  private probeTimer: unknown;
  private stopped = false;
  private starting: Promise<void> | undefined;
  private lastFingerprint = '';
  private lastWarnings = '';

  constructor(private readonly options: TopologyWatcherOptions) {
    this.logger = options.logger.child({ component: 'topology' });
    this.clock = options.clock ?? realClock;
    this.custom = options.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    this.nodeInformer = new ResilientInformer<k8s.V1Node>({
      kubeConfig: options.kubeConfig,
      resource: NODE_RESOURCE,
      logger: options.logger,
      resyncPeriodMs: 0,
    });
    const changed = (): void => this.maybeNotify();
    this.nodeInformer.addEventHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
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
      await this.probe();
      await this.nodeInformer.synced;
      if (this.infraInformer) await this.infraInformer.synced;
      this.maybeNotify();
    })();
    return this.starting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probeTimer !== undefined) this.clock.clearTimeout(this.probeTimer);
    await Promise.all([this.nodeInformer.stop(), this.infraInformer?.stop()]);
  }

  hasSynced(): boolean {
    return this.nodeInformer.hasSynced() && (this.infraInformer?.hasSynced() ?? this.apiState !== 'unknown');
  }

  infrastructure(): unknown {
    return this.infraInformer?.get('', INFRASTRUCTURE_NAME);
  }

  isOpenShift(): boolean {
    return this.apiState === 'present';
  }

  nodes(): k8s.V1Node[] {
    return this.nodeInformer.list();
  }

  /** Why detection fell back to counting nodes, if it did for a reason worth reporting. */
  warnings(): string[] {
    switch (this.apiState) {
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
      infrastructureApi: this.apiState,
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

  /** Looks for the Infrastructure API; starts its informer when found, else probes again later. */
  private async probe(): Promise<void> {
    if (this.stopped || this.infraInformer) return;
    let next: InfrastructureApiState;
    try {
      await this.custom.listClusterCustomObject({ group: 'config.openshift.io', version: 'v1', plural: 'infrastructures', limit: 1 });
      next = 'present';
    } catch (err) {
      const code = statusCode(err);
      if (code === 404) next = 'absent';
      else if (code === 403 || code === 401) next = 'forbidden';
      else {
        this.logger.warn('cannot reach the apiserver to look for the Infrastructure API; will retry', {
          error: errorMessage(err),
        });
        next = this.apiState === 'unknown' ? 'absent' : this.apiState;
      }
    }
    if (next !== this.apiState) {
      const messages: Record<InfrastructureApiState, string> = {
        unknown: '',
        absent: 'no config.openshift.io Infrastructure API (plain Kubernetes); sizing by schedulable nodes',
        forbidden: 'RBAC forbids reading config.openshift.io infrastructures; sizing by schedulable nodes (grant get/list/watch to use the OpenShift topology)',
        present: 'found the config.openshift.io Infrastructure API; watching Infrastructure "cluster"',
      };
      if (next === 'forbidden') this.logger.warn(messages[next]);
      else this.logger.info(messages[next]);
      this.apiState = next;
    }
    if (next === 'present') {
      const informer = new ResilientInformer<k8s.KubernetesObject>({
        kubeConfig: this.options.kubeConfig,
        resource: INFRASTRUCTURE_RESOURCE,
        logger: this.options.logger,
        resyncPeriodMs: 0,
      });
      const changed = (): void => this.maybeNotify();
      informer.addEventHandlers({ onAdd: changed, onUpdate: changed, onDelete: changed });
      informer.start();
      this.infraInformer = informer;
      // Events during the initial list are not reported (see maybeNotify);
      // report the object, or its absence, once the cache holds it.
      void informer.synced.then(changed);
      return;
    }
    this.probeTimer = this.clock.setTimeout(() => {
      this.probeTimer = undefined;
      void this.probe().then(() => this.maybeNotify());
    }, this.options.probeIntervalMs ?? 30_000);
  }

  private maybeNotify(): void {
    // Nothing is reported while the caches fill: a half-listed node set would
    // log (and size for) a topology the cluster never had.
    if (this.stopped || !this.hasSynced()) return;
    const fingerprint = JSON.stringify([
      this.apiState,
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
