// Carries out the planner's step on the servers: key copies with the same
// ring the clients use, in-place pod changes, graceful restarts, and the
// publication of the list. Every step is idempotent (copies never overwrite:
// add mode), so a step interrupted by an operator restart is simply taken
// again. Returns the operation's status, to be reported in status and Events.
import type * as k8s from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec, ServerOperationStatus, ServerOperationType } from '../../api/types.js';
import { copyKeys } from '../../keyspace/copy.js';
import { ketamaRing } from '../../keyspace/ketama.js';
import { fetchStats, MemcachedSession, type ConnectionSecurity, type Endpoint } from '../../protocol/client.js';
import { DEFAULT_PORT } from '../children/args.js';
import { RESTART_FROM_ANNOTATION } from '../children/metadata.js';
import { CONTAINER_NAME, MEMORY_ANNOTATION } from '../children/statefulset.js';
import { AUTHFILE_HASH_ANNOTATION } from '../tls/secure-serving.js';
import type { ClusterWriter } from '../writer.js';
import type { ServerStep } from './planner.js';
import { buildServersConfigMap, serverList } from './serverlist.js';

/** Set when a restart for a new authfile is requested: the change nudges the kubelet to refresh the pod's Secret volumes now. */
export const RESTART_REQUESTED_ANNOTATION = 'cache.example.com/restart-requested';
/**
 * How long the kubelet is given to write a new authfile into the pods before
 * the first server restarts to read it: its periodic pod sync (a minute by
 * default) plus margin. Later servers of the rollout have had as long.
 */
export const SECRET_REFRESH_MS = 90_000;
const STATS_TIMEOUT_MS = 3_000;
/** The longest one server's copy may take; a larger cache is copied in part. */
const COPY_TIMEOUT_MS = 5 * 60_000;

/** Keys copied, and why some could not be. */
interface Copied {
  keys: number;
  problems: string[];
}

function copyNote(copied: Copied): string {
  return copied.problems.length === 0 ? `${copied.keys} keys copied` : `${copied.keys} keys copied; not copied from ${copied.problems.join('; ')}`;
}

export interface OperationContext {
  mc: Memcached;
  spec: MemcachedSpec;
  pods: (k8s.V1Pod | undefined)[];
  legacyPods: k8s.V1Pod[];
  template: k8s.V1PodTemplateSpec;
  revision: string | undefined;
  operation: ServerOperationStatus | undefined;
  security: ConnectionSecurity;
  now: Date;
  signal: AbortSignal;
  /** Deletes the earlier version's Deployment once its keys are copied. */
  deleteLegacy(signal: AbortSignal): Promise<void>;
}

export interface OperationResult {
  /** The published list's length after this step, when it changed. */
  published?: number;
  operation?: ServerOperationStatus;
  /** Look again after this long (a restart is awaited). */
  requeueAfterMs?: number;
}

export interface OperationDeps {
  writer: ClusterWriter;
}

function restartCount(pod: k8s.V1Pod | undefined): number {
  return pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER_NAME)?.restartCount ?? 0;
}

/** A restart the operator asked for has not happened yet. */
export function restartAwaited(pod: k8s.V1Pod): boolean {
  const from = pod.metadata?.annotations?.[RESTART_FROM_ANNOTATION];
  return from !== undefined && restartCount(pod) <= Number(from);
}

const RESTARTING = 'Restarting';

/** The changes that are one write each, by the operation they start. */
const TAKEN_ONCE: Record<string, ServerOperationType | undefined> = { image: 'WarmRestart', memory: 'Resize', replace: 'Replace' };

/** Pods whose last item count is remembered (the oldest is forgotten first). */
const MAX_REMEMBERED_PODS = 4096;

/** Sets key to value, forgetting the oldest key beyond MAX_REMEMBERED_PODS. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_REMEMBERED_PODS) map.delete(map.keys().next().value!);
}

export class ServerOperations {
  /** By pod uid: the last item count read, and the credentials that read it (an authfile rotation needs the old ones once). */
  private readonly lastItems = new Map<string, number>();
  private readonly lastSecurity = new Map<string, ConnectionSecurity>();
  /**
   * By Memcached uid and authfile hash: the credentials of each authfile seen.
   * A server runs the authfile it started with (its pod's
   * AUTHFILE_HASH_ANNOTATION) until it restarts, and asking it to restart
   * for a new one takes the old credentials.
   */
  private readonly securityByAuthfile = new Map<string, ConnectionSecurity>();

  constructor(private readonly deps: OperationDeps) {}

  async run(step: ServerStep, ctx: OperationContext): Promise<OperationResult> {
    const authfile = ctx.template.metadata?.annotations?.[AUTHFILE_HASH_ANNOTATION];
    if (authfile && ctx.security.auth) remember(this.securityByAuthfile, `${ctx.mc.metadata.uid}/${authfile}`, ctx.security);
    switch (step.kind) {
      case 'idle':
        return {};
      case 'publish':
        await this.publish(ctx, step.count);
        return { published: step.count };
      case 'migrate':
        return this.migrate(ctx, step.count);
      case 'scaleUp':
        return this.scale(ctx, 'ScaleUp', step.from, step.to);
      case 'scaleDown':
        return this.scale(ctx, 'ScaleDown', step.from, step.to);
      case 'finish':
        return this.finish(ctx, step.ordinal, step.more);
      case 'conclude':
        return { operation: { ...ctx.operation!, phase: 'Succeeded', finishedAt: new Date().toISOString() } };
      case 'change':
        return this.change(ctx, step.ordinal, step.change);
    }
  }

  private endpoint(ctx: OperationContext, pod: k8s.V1Pod | undefined): Endpoint {
    const host = pod?.status?.podIP;
    if (!host) throw new Error(`server ${pod?.metadata?.name ?? '?'} has no address yet`);
    return { host, port: ctx.spec.containerPort ?? DEFAULT_PORT };
  }

  /**
   * The items a server holds. When it cannot be asked (a new authfile it does
   * not run yet), the last count read from that pod, else 0: the figure is
   * reported, never acted on.
   */
  private async items(ctx: OperationContext, pod: k8s.V1Pod | undefined): Promise<number> {
    const uid = pod?.metadata?.uid ?? '';
    try {
      const stats = await fetchStats(this.endpoint(ctx, pod), STATS_TIMEOUT_MS, ctx.security);
      const items = Number(stats.get('curr_items') ?? 0);
      remember(this.lastItems, uid, items);
      remember(this.lastSecurity, uid, ctx.security);
      return items;
    } catch {
      return this.lastItems.get(uid) ?? 0;
    }
  }

  private async itemsOf(ctx: OperationContext, pods: (k8s.V1Pod | undefined)[]): Promise<number> {
    const counts = await Promise.all(pods.map((p) => this.items(ctx, p)));
    return counts.reduce((a, b) => a + b, 0);
  }

  private async publish(ctx: OperationContext, count: number): Promise<void> {
    await this.deps.writer.apply(buildServersConfigMap(ctx.mc, serverList(ctx.mc, ctx.spec, count)), ctx.signal);
  }

  /**
   * Copies every key of the sources to its owner among `servers` (the list
   * of `count`), where `wanted` says the owner may receive it.
   */
  private async copyTo(ctx: OperationContext, sources: (k8s.V1Pod | undefined)[], count: number, wanted: (ordinal: number) => boolean, deleteFromSource = false): Promise<Copied> {
    return this.copyOver(ctx, sources, serverList(ctx.mc, ctx.spec, count), (ordinal) => wanted(ordinal), deleteFromSource);
  }

  /**
   * Copies every key of each source to its owner on the ring of `names`
   * (servers by ordinal). Best effort: a copy never blocks the change it
   * serves (the keys are a cache); a source or owner the operator cannot
   * reach is skipped, and said in the operation's message.
   */
  private async copyOver(ctx: OperationContext, sources: (k8s.V1Pod | undefined)[], names: string[], wanted: (ordinal: number) => boolean, deleteFromSource: boolean): Promise<Copied> {
    const all = serverList(ctx.mc, ctx.spec, Math.max(ctx.pods.length, names.length));
    const ordinalOf = new Map(all.map((n, i) => [n, i]));
    const copied: Copied = { keys: 0, problems: [] };
    if (names.length === 0) return copied;
    const ring = ketamaRing(names);
    for (const source of sources) {
      try {
        const result = await copyKeys({
          source: this.endpoint(ctx, source),
          ring,
          wanted: (owner: string) => wanted(ordinalOf.get(owner) ?? -1),
          endpointOf: (owner: string) => this.endpoint(ctx, ctx.pods[ordinalOf.get(owner) ?? -1]),
          mode: 'add',
          deleteFromSource,
          security: ctx.security,
          signal: ctx.signal,
          timeoutMs: COPY_TIMEOUT_MS,
        });
        copied.keys += result.copied;
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        copied.problems.push(`${source?.metadata?.name ?? '?'}: ${(err as Error).message}`);
      }
    }
    return copied;
  }

  private operation(ctx: OperationContext, type: ServerOperationType, message: string, extra: Partial<ServerOperationStatus> = {}): ServerOperationStatus {
    return { type, phase: 'Succeeded', startedAt: ctx.now.toISOString(), finishedAt: new Date().toISOString(), message, ...extra };
  }

  private async migrate(ctx: OperationContext, count: number): Promise<OperationResult> {
    const before = await this.itemsOf(ctx, ctx.legacyPods);
    const copied = await this.copyTo(ctx, ctx.legacyPods, count, () => true);
    await this.publish(ctx, count);
    await ctx.deleteLegacy(ctx.signal);
    const message = `Moved from the Deployment to a StatefulSet of ${count} servers: ${copyNote(copied)} of ${before}`;
    return { published: count, operation: this.operation(ctx, 'Migrate', message, { keysBefore: before, keysKept: copied.keys }) };
  }

  /** Scale-up copies to the new servers the keys they now own; scale-down empties the servers that go into those that stay. */
  private async scale(ctx: OperationContext, type: 'ScaleUp' | 'ScaleDown', from: number, to: number): Promise<OperationResult> {
    const all = ctx.pods.slice(0, Math.max(from, to));
    const before = await this.itemsOf(ctx, ctx.pods.slice(0, from));
    const copied =
      type === 'ScaleUp'
        ? await this.copyTo(ctx, ctx.pods.slice(0, from), to, (owner) => owner >= from)
        : await this.copyTo(ctx, ctx.pods.slice(to, from), to, (owner) => owner < to);
    await this.publish(ctx, to);
    const after = await this.itemsOf(ctx, all.slice(0, to));
    const message = `${from} → ${to} servers: ${copyNote(copied)} to their new owners`;
    return { published: to, operation: this.operation(ctx, type, message, { keysBefore: before, keysKept: Math.min(after, before) }) };
  }

  /**
   * The operation as server `ordinal` starts its part. A rollout (every
   * server taking one change, one after another) is one operation: the
   * servers' counts add up, and it keeps its start.
   */
  private running(ctx: OperationContext, type: ServerOperationType, ordinal: number, keysBefore: number, message: string): ServerOperationStatus {
    const server = ctx.pods[ordinal]?.metadata?.name ?? '';
    const op = ctx.operation;
    const rollout = op?.phase === 'Running' && !op.server && op.type === type ? op : undefined;
    return {
      type,
      phase: 'Running',
      server,
      startedAt: rollout?.startedAt ?? ctx.now.toISOString(),
      keysBefore: (rollout?.keysBefore ?? 0) + keysBefore,
      ...(rollout?.keysKept !== undefined ? { keysKept: rollout.keysKept } : {}),
      message,
    };
  }

  private peers(ctx: OperationContext, ordinal: number): (k8s.V1Pod | undefined)[] {
    return ctx.pods.filter((_, i) => i !== ordinal);
  }

  /** Copies server `ordinal`'s keys to the servers that own them without it, so they survive its restart or replacement. */
  private async park(ctx: OperationContext, ordinal: number): Promise<Copied> {
    const without = serverList(ctx.mc, ctx.spec, ctx.pods.length).filter((_, i) => i !== ordinal);
    return this.copyOver(ctx, [ctx.pods[ordinal]], without, () => true, false);
  }

  /**
   * Restarts memcached in place: a graceful stop saves its items, and the
   * kubelet starts it again in the same pod. When memcached cannot be asked
   * (unreachable, or an image without -A), the pod is replaced instead.
   */
  private async restartInPlace(ctx: OperationContext, pod: k8s.V1Pod): Promise<string> {
    // A server that still runs the old authfile takes its credentials: those
    // of the authfile its pod says it runs, or those that last worked on it.
    const runs = pod.metadata?.annotations?.[AUTHFILE_HASH_ANNOTATION];
    const known = [runs ? this.securityByAuthfile.get(`${ctx.mc.metadata.uid}/${runs}`) : undefined, this.lastSecurity.get(pod.metadata?.uid ?? '')];
    const attempts = [...new Set([ctx.security, ...known.filter((s): s is ConnectionSecurity => s !== undefined)])];
    let failure: Error | undefined;
    for (const security of attempts) {
      try {
        await this.shutdownGraceful(this.endpoint(ctx, pod), security);
        return 'restarted in place';
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        failure = err as Error;
      }
    }
    await this.deps.writer.delete({ ...pod, apiVersion: 'v1', kind: 'Pod' }, ctx.signal);
    return `replaced: memcached could not be asked to restart (${failure?.message})`;
  }

  private async shutdownGraceful(endpoint: Endpoint, security: ConnectionSecurity): Promise<void> {
    // open() authenticates when security names a user.
    const session = await MemcachedSession.open(endpoint, security, { timeoutMs: STATS_TIMEOUT_MS });
    try {
      await session.shutdownGraceful();
    } finally {
      session.close();
    }
  }

  private templateAnnotation(ctx: OperationContext, key: string): string | undefined {
    return ctx.template.metadata?.annotations?.[key];
  }

  private revisionLabel(ctx: OperationContext): Record<string, string> {
    return ctx.revision ? { 'controller-revision-hash': ctx.revision } : {};
  }

  private async change(ctx: OperationContext, ordinal: number, change: string): Promise<OperationResult> {
    const pod = ctx.pods[ordinal]!;
    const { writer } = this.deps;
    // The cache can show the pod from before this operation's own write: the
    // step was taken already; taking it twice would restart the server twice.
    const op = ctx.operation;
    const taken = op?.phase === 'Running' && op.server === pod.metadata?.name && TAKEN_ONCE[change] === op.type;
    if (taken) return { operation: op, requeueAfterMs: 1_000 };
    const container = (name: string) => ctx.template.spec?.containers?.find((c) => c.name === name);
    switch (change) {
      case 'relabel':
        await writer.patchPod(pod, { metadata: { labels: this.revisionLabel(ctx) } }, ctx.signal);
        return {};
      case 'resize': {
        const resources = container(CONTAINER_NAME)?.resources;
        await writer.patchPod(pod, { spec: { containers: [{ name: CONTAINER_NAME, resources }] } }, ctx.signal, 'resize');
        return {};
      }
      case 'image': {
        const keysBefore = await this.items(ctx, pod);
        const containers = (ctx.template.spec?.containers ?? []).map((c) => ({ name: c.name, image: c.image }));
        await writer.patchPod(pod, { metadata: { labels: this.revisionLabel(ctx), annotations: { [RESTART_FROM_ANNOTATION]: String(restartCount(pod)) } }, spec: { containers } }, ctx.signal);
        return { operation: this.running(ctx, 'WarmRestart', ordinal, keysBefore, `New image; ${pod.metadata?.name} restarts in place, its items kept in memory`) };
      }
      case 'restart':
        return this.restartForAuthfile(ctx, ordinal);
      case 'memory':
        return this.resizeMemory(ctx, ordinal);
      default:
        return this.replace(ctx, ordinal);
    }
  }

  /**
   * memcached reads its authfile only at start. The pod's annotation change
   * makes the kubelet write the new Secret into the pod soon; after
   * SECRET_REFRESH_MS memcached is restarted, warm.
   */
  private async restartForAuthfile(ctx: OperationContext, ordinal: number): Promise<OperationResult> {
    const pod = ctx.pods[ordinal]!;
    const op = ctx.operation;
    const name = pod.metadata?.name ?? '';
    const mine = op?.phase === 'Running' && op.server === name && op.type === 'WarmRestart';
    if (!mine) {
      const keysBefore = await this.items(ctx, pod);
      // A restart mark left by an earlier restart goes: this one sets its own.
      const annotations = { [RESTART_REQUESTED_ANNOTATION]: ctx.now.toISOString(), [RESTART_FROM_ANNOTATION]: null };
      await this.deps.writer.patchPod(pod, { metadata: { annotations } }, ctx.signal);
      return { operation: this.running(ctx, 'WarmRestart', ordinal, keysBefore, `New authfile; ${name} restarts in place, its items kept in memory`), requeueAfterMs: SECRET_REFRESH_MS };
    }
    if (op.stage === RESTARTING) {
      // The cache may not show the restart yet: wait for it, never ask twice.
      if (pod.metadata?.annotations?.[RESTART_FROM_ANNOTATION] === undefined || restartAwaited(pod)) return { operation: op, requeueAfterMs: 1_000 };
      // Restarted. If memcached still refuses the new credentials, the kubelet
      // had not written the new authfile yet: a new pod reads the Secret as it is.
      const accepted = await fetchStats(this.endpoint(ctx, pod), STATS_TIMEOUT_MS, ctx.security).then(() => true, () => false);
      if (!accepted) {
        await this.deps.writer.delete({ ...pod, apiVersion: 'v1', kind: 'Pod' }, ctx.signal);
        return { operation: { ...op, message: `${op.message}; ${name} still refused the new credentials after its restart, so it was replaced` } };
      }
      await this.deps.writer.patchPod(pod, { metadata: { annotations: { [AUTHFILE_HASH_ANNOTATION]: this.templateAnnotation(ctx, AUTHFILE_HASH_ANNOTATION) ?? null } } }, ctx.signal);
      return { operation: op };
    }
    const waited = ctx.now.getTime() - Date.parse(op.startedAt);
    if (waited < SECRET_REFRESH_MS) return { operation: op, requeueAfterMs: SECRET_REFRESH_MS - waited };
    await this.deps.writer.patchPod(pod, { metadata: { annotations: { [RESTART_FROM_ANNOTATION]: String(restartCount(pod)) } } }, ctx.signal);
    const how = await this.restartInPlace(ctx, pod);
    return { operation: { ...op, stage: RESTARTING, message: `${op.message}; ${how}` } };
  }

  /** Keys parked on the peers, the pod resized in place and its memcached restarted with the new -m, then the keys brought back (finish). */
  private async resizeMemory(ctx: OperationContext, ordinal: number): Promise<OperationResult> {
    const pod = ctx.pods[ordinal]!;
    const keysBefore = await this.items(ctx, pod);
    const parked = await this.park(ctx, ordinal);
    const resources = ctx.template.spec?.containers?.find((c) => c.name === CONTAINER_NAME)?.resources;
    const annotations = { [MEMORY_ANNOTATION]: this.templateAnnotation(ctx, MEMORY_ANNOTATION), [RESTART_FROM_ANNOTATION]: String(restartCount(pod)) };
    await this.deps.writer.patchPod(pod, { metadata: { annotations } }, ctx.signal);
    await this.deps.writer.patchPod(pod, { spec: { containers: [{ name: CONTAINER_NAME, resources }] } }, ctx.signal, 'resize');
    const how = await this.restartInPlace(ctx, pod);
    const note = ctx.pods.length < 2 ? 'no peer can hold its keys, so it restarts empty' : `parked on its peers: ${copyNote(parked)}`;
    return { operation: this.running(ctx, 'Resize', ordinal, keysBefore, `memoryLimitMB changed; ${pod.metadata?.name} resized and ${how} (${note})`) };
  }

  private async replace(ctx: OperationContext, ordinal: number): Promise<OperationResult> {
    const pod = ctx.pods[ordinal]!;
    const keysBefore = await this.items(ctx, pod);
    const parked = await this.park(ctx, ordinal);
    await this.deps.writer.delete({ ...pod, apiVersion: 'v1', kind: 'Pod' }, ctx.signal);
    const note = ctx.pods.length < 2 ? 'no peer can hold its keys' : `parked on its peers: ${copyNote(parked)}`;
    return { operation: this.running(ctx, 'Replace', ordinal, keysBefore, `The pod spec changed; ${pod.metadata?.name} replaced (${note})`) };
  }

  /** The pod runs the template: bring its parked keys back, and report what it holds; with `more` to come, the rollout goes on. */
  private async finish(ctx: OperationContext, ordinal: number, more: boolean): Promise<OperationResult> {
    const pod = ctx.pods[ordinal]!;
    const op = ctx.operation!;
    if (restartAwaited(pod)) return { operation: op, requeueAfterMs: 1_000 };
    let returned: Copied = { keys: 0, problems: [] };
    if ((op.type === 'Resize' || op.type === 'Replace') && ctx.pods.length > 1) {
      returned = await this.copyTo(ctx, this.peers(ctx, ordinal), ctx.pods.length, (owner) => owner === ordinal, true);
    }
    const kept = await this.items(ctx, pod);
    const restored = op.type === 'WarmRestart' ? 'restored from memory' : `brought back from its peers: ${copyNote(returned)}`;
    const keysKept = (op.keysKept ?? 0) + kept;
    const message = `${op.message}: done; ${kept} items held (${restored}); ${keysKept} of ${op.keysBefore ?? 0} so far`;
    // Between two servers of a rollout, no server is named (empty, not
    // absent: status is written with a merge patch, which keeps absent keys).
    if (more) return { operation: { ...op, server: '', keysKept, message } };
    return { operation: { ...op, phase: 'Succeeded', finishedAt: new Date().toISOString(), keysKept, message } };
  }
}
