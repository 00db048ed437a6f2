// Watches the harness keeps on the cluster while it measures: when each object
// first reports Available, and when each spec change is reflected in its status.
// Times are taken on the harness's clock when the watch event arrives.
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../src/api/types.js';

type Handler = (type: string, obj: k8s.KubernetesObject, at: number) => void;

/** A watch that restarts itself (from the current state) until stopped. */
export class RestartingWatch {
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly path: string,
    private readonly handler: Handler,
  ) {}

  async start(): Promise<void> {
    const watch = new k8s.Watch(this.kc);
    this.abort = await watch.watch(
      this.path,
      {},
      (type: string, obj: k8s.KubernetesObject) => this.handler(type, obj, Date.now()),
      () => {
        if (this.stopped) return;
        setTimeout(() => void this.start().catch(() => undefined), 200);
      },
    );
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

export const memcachedsPath = (ns: string): string => `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${PLURAL}`;
export const deploymentsPath = (ns: string): string => `/apis/apps/v1/namespaces/${ns}/deployments`;

interface WithConditions {
  status?: { conditions?: Array<{ type?: string; status?: string }> };
}

function conditionTrue(obj: WithConditions, type: string): boolean {
  return !!obj.status?.conditions?.some((c) => c.type === type && c.status === 'True');
}

/**
 * When each object became converged, as seen on a watch:
 * - mode "memcached": the Memcached's own Available condition turns True
 *   (our operator, and the floor);
 * - mode "deployment": its Deployment's Available condition turns True (any
 *   other operator: Operator SDK's sample sets Available before its pods are ready).
 */
export class AvailabilityWatch {
  readonly availableAt = new Map<string, number>();
  readonly createdAt = new Map<string, number>();
  private readonly watch: RestartingWatch;
  private waiters: Array<() => void> = [];

  constructor(kc: k8s.KubeConfig, namespace: string, mode: 'memcached' | 'deployment') {
    const path = mode === 'memcached' ? memcachedsPath(namespace) : deploymentsPath(namespace);
    this.watch = new RestartingWatch(kc, path, (type, obj, at) => {
      if (type === 'DELETED' || type === 'ERROR' || type === 'BOOKMARK') return;
      const owner = obj.metadata?.ownerReferences?.find((r) => r.kind === 'Memcached')?.name;
      const name = mode === 'memcached' ? obj.metadata?.name : (owner ?? obj.metadata?.name);
      if (!name) return;
      if (mode === 'memcached' && obj.metadata?.creationTimestamp && !this.createdAt.has(name)) {
        this.createdAt.set(name, new Date(obj.metadata.creationTimestamp).getTime());
      }
      if (!this.availableAt.has(name) && conditionTrue(obj as WithConditions, 'Available')) {
        this.availableAt.set(name, at);
        for (const w of this.waiters.splice(0)) w();
      }
    });
  }

  start(): Promise<void> {
    return this.watch.start();
  }

  stop(): void {
    this.watch.stop();
  }

  /** Resolves true once every name is available, false at the deadline. */
  async waitFor(names: readonly string[], timeoutMs: number, progress?: (done: number) => void): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let lastReport = 0;
    for (;;) {
      const done = names.filter((n) => this.availableAt.has(n)).length;
      if (progress && Date.now() - lastReport > 15_000) {
        progress(done);
        lastReport = Date.now();
      }
      if (done === names.length) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 5_000));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/**
 * Churn bookkeeping. Each spec.size patch returns the Memcached's new
 * metadata.generation; the change counts as reflected when the object's
 * status.observedGeneration reaches it. The operator writes status after the
 * StatefulSet in the same reconcile, so by then the StatefulSet has the change
 * (or a later one). Matching replicas by value instead would be
 * ambiguous: sizes alternate, and an operator that is behind skips values.
 */
export class ReflectionTracker {
  readonly lagsMs: number[] = [];
  private readonly pending = new Map<string, Array<{ generation: number; sentAt: number }>>();
  private readonly observed = new Map<string, { generation: number; at: number }>();
  private readonly watch: RestartingWatch;
  changes = 0;

  constructor(kc: k8s.KubeConfig, namespace: string) {
    this.watch = new RestartingWatch(kc, memcachedsPath(namespace), (type, obj, at) => {
      if (type !== 'ADDED' && type !== 'MODIFIED') return;
      const name = obj.metadata?.name;
      const generation = (obj as { status?: { observedGeneration?: number } }).status?.observedGeneration;
      if (!name || typeof generation !== 'number') return;
      const previous = this.observed.get(name);
      if (!previous || generation > previous.generation) this.observed.set(name, { generation, at });
      this.resolve(name);
    });
  }

  start(): Promise<void> {
    return this.watch.start();
  }

  stop(): void {
    this.watch.stop();
  }

  sent(name: string, generation: number, sentAt: number): void {
    this.changes++;
    const list = this.pending.get(name) ?? [];
    list.push({ generation, sentAt });
    this.pending.set(name, list);
    this.resolve(name);
  }

  private resolve(name: string): void {
    const seen = this.observed.get(name);
    const list = this.pending.get(name);
    if (!seen || !list) return;
    const still = list.filter((p) => p.generation > seen.generation);
    for (const p of list) if (p.generation <= seen.generation) this.lagsMs.push(Math.max(0, seen.at - p.sentAt));
    this.pending.set(name, still);
  }

  outstanding(): number {
    let n = 0;
    for (const list of this.pending.values()) n += list.length;
    return n;
  }
}
