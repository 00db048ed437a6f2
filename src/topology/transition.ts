// Staged transitions towards a placement, so the cache never drops to zero
// Ready pods. Going to HA (for example SingleReplica -> HighlyAvailable, or a
// bigger spec.size with Required anti-affinity), the replicas are scaled up
// first with Preferred anti-affinity, and anti-affinity is tightened to
// Required only once enough replicas are Ready. Pure.
import type { AntiAffinity, Placement, PlacementNotice } from './types.js';

/** What is running now: the workload's replicas and Ready replicas, and the anti-affinity it was given. */
export interface CurrentPlacement {
  replicas: number;
  readyReplicas: number;
  antiAffinity: AntiAffinity;
}

/** The condition type of the notice a staged (not yet final) placement carries. */
export const STAGED_CONDITION = 'HighAvailability';
export const STAGED_REASON = 'ScalingUp';

function count(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.floor(n)) : 0;
}

/**
 * The placement to apply now on the way to target:
 * - no previous workload (first creation): the target, as nothing can drop;
 * - target without Required anti-affinity, or previous already Required: the target;
 * - target Required and fewer Ready replicas than target.replicas: the target's
 *   replicas with Preferred anti-affinity, plus a ScalingUp notice;
 * - target Required and at least target.replicas Ready: the target.
 * Call it on every reconcile; it converges on the target once the pods are Ready.
 */
export function stagedPlacement<P extends Placement>(previous: CurrentPlacement | undefined, target: P): P {
  if (previous === undefined) return target;
  if (target.antiAffinity !== 'Required' || previous.antiAffinity === 'Required') return target;
  const ready = count(previous.readyReplicas);
  if (ready >= target.replicas) return target;
  const notice: PlacementNotice = {
    type: STAGED_CONDITION,
    status: 'False',
    reason: STAGED_REASON,
    message:
      `scaling up to ${target.replicas} replicas with Preferred pod anti-affinity first ` +
      `(${ready} Ready); it becomes Required once all ${target.replicas} are Ready`,
  };
  return {
    ...target,
    antiAffinity: 'Preferred',
    notices: [...target.notices.filter((n) => n.type !== STAGED_CONDITION), notice],
  };
}
