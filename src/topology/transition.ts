// Staged transitions towards a placement, so the cache never drops to zero
// Ready pods and a rollout never waits on itself. Going to HA (for example
// SingleReplica -> HighlyAvailable, or a bigger spec.size with Required
// anti-affinity), the replicas are scaled up first with Preferred
// anti-affinity, and anti-affinity is tightened to Required only once enough
// replicas are Ready. Leaving Required for more replicas (say spec.size 5 on
// 3 nodes), anti-affinity is relaxed on the running replicas first and the
// scale-up follows once no Required pod is left: those pods repel every new
// one from their nodes, and nothing stops them while the new pods are Pending
// (servers/changes.ts replaces them first, their keys parked). Pure.
import type { AntiAffinity, Placement, PlacementNotice } from './types.js';

/** What is running now: the workload's replicas and Ready replicas, and the anti-affinity it was given. */
export interface CurrentPlacement {
  replicas: number;
  readyReplicas: number;
  antiAffinity: AntiAffinity;
  /** Pods with Required anti-affinity may still run: the template has it, or a rollout away from it is unfinished. */
  requiredPodsMayRun: boolean;
}

/** The condition type of the notice a staged (not yet final) placement carries. */
export const STAGED_CONDITION = 'HighAvailability';
export const STAGED_REASON = 'ScalingUp';

function staged<P extends Placement>(placement: P, message: string): P {
  const notice: PlacementNotice = { type: STAGED_CONDITION, status: 'False', reason: STAGED_REASON, message };
  return { ...placement, notices: [...placement.notices.filter((n) => n.type !== STAGED_CONDITION), notice] };
}

function count(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0;
}

/**
 * The placement to apply now on the way to target:
 * - no previous workload (first creation): the target, as nothing can drop;
 * - target without Required anti-affinity and more replicas than now, while
 *   pods with Required anti-affinity may run: the target at today's replica
 *   count, rolled out one pod at a time, plus a ScalingUp notice;
 * - any other target without Required anti-affinity, or previous already Required: the target;
 * - target Required and fewer Ready replicas than target.replicas: the target's
 *   replicas with Preferred anti-affinity, plus a ScalingUp notice;
 * - target Required and at least target.replicas Ready: the target.
 * Call it on every reconcile; it converges on the target once the pods are
 * Ready and the rollouts have finished.
 */
export function stagedPlacement<P extends Placement>(previous: CurrentPlacement | undefined, target: P): P {
  if (previous === undefined) return target;
  const running = count(previous.replicas);
  if (target.antiAffinity !== 'Required' && previous.requiredPodsMayRun && target.replicas > running) {
    return staged(
      { ...target, replicas: running, oneAtATime: true },
      `relaxing pod anti-affinity on the ${running} running replicas first; scaling up to ${target.replicas} ` +
        `once no pod with Required anti-affinity is left (such a pod keeps every new one off its node)`,
    );
  }
  if (target.antiAffinity !== 'Required' || previous.antiAffinity === 'Required') return target;
  const ready = count(previous.readyReplicas);
  if (ready >= target.replicas) return target;
  return staged(
    { ...target, antiAffinity: 'Preferred' },
    `scaling up to ${target.replicas} replicas with Preferred pod anti-affinity first ` +
      `(${ready} Ready); it becomes Required once all ${target.replicas} are Ready`,
  );
}
