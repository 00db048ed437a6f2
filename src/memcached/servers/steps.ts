// The servers' part of a reconcile: what the planner says to do next, done
// by ServerOperations, turned into status (ServersReport) and Events. A
// failed step is retried on the next pass; it never fails the children's
// writes, which already happened.
import type * as k8s from '@kubernetes/client-node';
import type { EventRecorder, ReconcileContext } from '@memcached-operator/runtime';
import type { Memcached, ServerOperationStatus, ServerState, ServerStatus } from '../../api/types.js';
import { DEFAULT_PORT } from '../children/args.js';
import type { Observed, Plan } from '../outcome.js';
import { isServing } from '../pods.js';
import type { ServersReport } from '../status.js';
import type { SecureServing } from '../tls/secure-serving.js';
import type { ClusterWriter } from '../writer.js';
import { restartAwaited, ServerOperations } from './operations.js';
import { nextStep, statefulSetReplicas, type ServerStep } from './planner.js';
import { ordinalOf, publishedServers, serverList } from './serverlist.js';

/** How soon to look again while a step waits on something no watch reports (a restart, a key copy to retry). */
const RECHECK_MS = 2_000;
/** How soon to look again when the pod cache lags behind the StatefulSet's count of Ready pods. */
const CACHE_CATCH_UP_MS = 1_000;

/**
 * Whether the StatefulSet counts more Ready pods than the pod cache shows.
 * A pod's Ready gain is not enqueued from the pod watch (the StatefulSet's
 * readyReplicas brings it: one reconcile, not two); should the StatefulSet's
 * event overtake the pod's, the pass looks again shortly.
 */
export function podCacheBehind(statefulSet: k8s.V1StatefulSet | undefined, pods: (k8s.V1Pod | undefined)[]): boolean {
  return (statefulSet?.status?.readyReplicas ?? 0) > pods.filter((p) => p !== undefined && isServing(p)).length;
}

function stateOf(pod: k8s.V1Pod | undefined, ordinal: number, operation: ServerOperationStatus | undefined, step: ServerStep): ServerState {
  if (!pod) return 'Starting';
  const busy = operation?.phase === 'Running' && operation.server === pod.metadata?.name;
  if (busy && restartAwaited(pod)) return 'Restarting';
  if (!isServing(pod)) return (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0 && busy ? 'Restarting' : 'Starting';
  if (busy || (step.kind === 'scaleUp' && ordinal >= step.from)) return 'Warming';
  return 'Warm';
}

function describe(step: ServerStep): string | undefined {
  switch (step.kind) {
    case 'idle':
      return step.waiting;
    case 'publish':
      return undefined;
    case 'change':
      return `server ${step.ordinal}: ${step.change}`;
    default:
      return step.kind;
  }
}

/**
 * A server whose pod is not the one status recorded, with no operation of
 * the operator's on it: deleted, evicted or drained. Its keys are gone; it
 * is said as a Replace (finished by the planner once it is Ready).
 */
function replacedElsewhere(mc: Memcached, pods: (k8s.V1Pod | undefined)[], now: Date): ServerOperationStatus | undefined {
  const recorded = new Map((mc.status?.servers ?? []).map((s) => [s.name, s.podUID]));
  const pod = pods.find((p) => {
    const before = recorded.get(p?.metadata?.name ?? '');
    return p?.metadata?.uid !== undefined && before !== undefined && before !== p.metadata.uid;
  });
  if (!pod) return undefined;
  const name = pod.metadata!.name!;
  return {
    type: 'Replace',
    phase: 'Running',
    server: name,
    startedAt: now.toISOString(),
    keysBefore: 0,
    message: `${name} was replaced outside the operator (deleted, evicted or its node drained): it started empty`,
  };
}

/** Memcacheds whose last operation is remembered (the oldest is forgotten first). */
const MAX_REMEMBERED = 4096;

export class ServerSteps {
  private readonly operations: ServerOperations;
  private readonly written = new Map<string, ServerOperationStatus>();

  constructor(
    private readonly writer: ClusterWriter,
    private readonly events: EventRecorder,
    private readonly secureServing: SecureServing | undefined,
  ) {
    this.operations = new ServerOperations({ writer });
  }

  async take(observed: Observed, plan: Plan, statefulSet: k8s.V1StatefulSet | undefined, now: Date, ctx: ReconcileContext): Promise<{ report: ServersReport; recheckMs?: number }> {
    const { mc } = observed;
    const published = publishedServers(observed.serversConfigMap)?.length;
    const count = statefulSetReplicas(plan.placement.replicas, published);
    const pods: (k8s.V1Pod | undefined)[] = Array.from({ length: count }, (_, i) => observed.pods.find((p) => p.metadata?.name === `${mc.metadata.name}-${i}`));
    const legacy = observed.legacyDeployment;
    const legacyPods = legacy ? observed.pods.filter((p) => ordinalOf(mc, p) === undefined && isServing(p)) : [];
    const template = plan.statefulSet.spec!.template;
    // The operation this replica last wrote wins over the cache's copy of
    // status, which can lag behind that write by a reconcile; after a restart
    // there is none, and status is the record.
    const operation = this.written.get(mc.metadata.uid ?? '') ?? mc.status?.lastOperation;
    const relaxingRequired = plan.placement.oneAtATime === true;
    const step = nextStep({ target: plan.placement.replicas, published, statefulSet, pods, legacyPods, template, operation, now, relaxingRequired });
    let result: Awaited<ReturnType<ServerOperations['run']>> = {};
    let failure: string | undefined;
    try {
      const port = plan.spec.containerPort ?? DEFAULT_PORT;
      // With auth on, every pass reads the credentials (cached): the
      // operations keep those of each authfile, which a rotation needs once.
      const needed = step.kind !== 'idle' && step.kind !== 'publish';
      const read = this.secureServing && (needed || plan.spec.auth) ? this.secureServing.scrapeSecurity(mc, plan.spec, port) : Promise.resolve({});
      const security = await read.catch((err: unknown) => {
        if (needed) throw err;
        return {};
      });
      result = await this.operations.run(step, {
        mc, spec: plan.spec, pods, legacyPods, template, revision: statefulSet?.status?.updateRevision, operation, security, now, signal: ctx.signal,
        deleteLegacy: (signal) => (legacy ? this.writer.delete({ ...legacy, apiVersion: 'apps/v1', kind: 'Deployment' }, signal) : Promise.resolve()),
      });
    } catch (err) {
      failure = `${describe(step) ?? step.kind} failed: ${(err as Error).message}`;
      ctx.log.info('server step failed; retried', { step: step.kind, error: (err as Error).message });
    }
    const replaced = result.operation || operation?.phase === 'Running' ? undefined : replacedElsewhere(mc, pods, now);
    const lastOperation = result.operation ?? replaced ?? operation;
    if (lastOperation) this.remember(mc.metadata.uid ?? '', lastOperation);
    this.recordTransition(mc, operation, result.operation ?? replaced);
    const listed = result.published ?? published;
    const servers: ServerStatus[] = pods.map((pod, i) => {
      const uid = pod?.metadata?.uid;
      return { name: `${mc.metadata.name}-${i}`, state: stateOf(pod, i, lastOperation, step), ...(uid ? { podUID: uid } : {}) };
    });
    const pending = failure ?? (step.kind === 'idle' && !step.waiting && lastOperation?.phase !== 'Running' ? undefined : describe(step) ?? 'servers changing');
    const report: ServersReport = {
      servers,
      ...(listed !== undefined ? { serverList: serverList(mc, plan.spec, listed) } : {}),
      ...(lastOperation ? { lastOperation } : {}),
      ...(pending !== undefined ? { pending } : {}),
    };
    const busy = failure !== undefined || (step.kind !== 'idle' && step.kind !== 'publish') || lastOperation?.phase === 'Running';
    if (busy) return { report, recheckMs: result.requeueAfterMs ?? RECHECK_MS };
    const settling = step.kind === 'idle' ? step.retryMs : undefined;
    return { report, ...(settling !== undefined ? { recheckMs: settling } : podCacheBehind(statefulSet, pods) ? { recheckMs: CACHE_CATCH_UP_MS } : {}) };
  }

  private remember(uid: string, operation: ServerOperationStatus): void {
    this.written.delete(uid);
    this.written.set(uid, operation);
    if (this.written.size > MAX_REMEMBERED) this.written.delete(this.written.keys().next().value!);
  }

  /** One Event when an operation starts and one when it ends. */
  private recordTransition(mc: Memcached, before: ServerOperationStatus | undefined, after: ServerOperationStatus | undefined): void {
    if (!after) return;
    const same = before && before.type === after.type && before.startedAt === after.startedAt && before.server === after.server;
    if (same && before.phase === after.phase) return;
    const type = after.phase === 'Failed' ? 'Warning' : 'Normal';
    if (after.phase !== 'Running' && !same) this.events.event(mc, 'Normal', after.type, 'Start', after.message.split(': done')[0]);
    this.events.event(mc, type, after.type, after.phase === 'Running' ? 'Start' : 'Finish', after.message);
  }
}
