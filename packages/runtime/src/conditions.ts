// Status conditions as the Kubernetes API conventions define them, with the
// helpers apimachinery's meta package offers for them: find one by type, ask
// whether one is True, and set one so that lastTransitionTime moves only when
// the status does. The finders take any object with a type and a status, so
// they read a Pod's, a Node's or a Deployment's conditions as well as a
// custom resource's. Pure.

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** A condition to set; setCondition fills in lastTransitionTime. */
export type ConditionUpdate = Omit<Condition, 'lastTransitionTime'>;

/** The condition of the given type, if there is one. */
export function findCondition<C extends { type?: string }>(conditions: readonly C[] | null | undefined, type: string): C | undefined {
  return conditions?.find((c) => c?.type === type);
}

/** Whether the condition of the given type is there and True. */
export function isConditionTrue(conditions: readonly { type?: string; status?: string }[] | null | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/** metav1.Time as the API serializes it, to the second: anything finer would read back as a change. */
export function apiTime(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * conditions with update applied, as a new array (the input is not touched).
 * lastTransitionTime moves to now only when the condition is new or its
 * status changed; reason, message and observedGeneration are always
 * updated. An existing condition keeps its place; a new one goes last.
 */
export function setCondition(conditions: readonly Condition[] | undefined, update: ConditionUpdate, now: Date): Condition[] {
  const list = [...(conditions ?? [])];
  const index = list.findIndex((c) => c.type === update.type);
  const previous = index >= 0 ? list[index] : undefined;
  const next: Condition = {
    type: update.type,
    status: update.status,
    reason: update.reason,
    message: update.message,
    lastTransitionTime: previous && previous.status === update.status ? previous.lastTransitionTime : apiTime(now),
  };
  if (update.observedGeneration !== undefined) next.observedGeneration = update.observedGeneration;
  if (index >= 0) list[index] = next;
  else list.push(next);
  return list;
}
