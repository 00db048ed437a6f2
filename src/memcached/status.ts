// Status of a Memcached, computed from what was observed. Pure: the
// reconciler writes the result only when statusEqual says it changed.
import type { V1Deployment, V1DeploymentCondition } from '@kubernetes/client-node';
import { findCondition, setCondition, type ConditionUpdate } from '@memcached-operator/runtime';
import type { Condition, ConditionStatus, Memcached, MemcachedStatus, TLSStatus, TopologyStatus } from '../api/types.js';
import type { Placement } from '../topology/types.js';
import type { PodTrouble } from './pods.js';
import type { TLSDataPath } from '../api/types.js';
import { CONTAINER_NAME } from './children/deployment.js';

export const CONDITION_AVAILABLE = 'Available';
export const CONDITION_PROGRESSING = 'Progressing';
export const CONDITION_DEGRADED = 'Degraded';

export const REASON = {
  AllReplicasReady: 'AllReplicasReady',
  ReplicasNotReady: 'ReplicasNotReady',
  InvalidSpec: 'InvalidSpec',
  ChildRejected: 'ChildRejected',
  ChildWriteFailing: 'ChildWriteFailing',
  DeploymentFailed: 'DeploymentFailed',
  AsExpected: 'AsExpected',
  RollingOut: 'RollingOut',
  Creating: 'Creating',
  RolloutComplete: 'RolloutComplete',
} as const;

export interface StatusInput {
  mc: Memcached;
  /** The Deployment as last observed; undefined when it does not exist (yet). */
  deployment?: V1Deployment;
  /** Names of the memcached pods that are Ready. */
  readyPods?: string[];
  /** The placement applied; undefined when none could be computed (invalid spec). */
  placement?: Placement;
  topology?: Omit<TopologyStatus, 'profile'>;
  /** The validator's message when the spec is invalid. */
  invalidMessage?: string;
  /** The apiserver's refusal of a child built from a spec the validator accepted. */
  rejectedMessage?: string;
  /** A child write that failed several reconciles in a row and is being retried (errorpolicy.ts). */
  writeFailingMessage?: string;
  /** Why some pods are not Ready (pods.ts), when they are stuck rather than starting. */
  podTrouble?: PodTrouble;
  /** A referenced Secret memcached cannot run from (tls/secret-digest.ts); the children were left untouched. */
  secretProblem?: { reason: string; message: string };
  /** Conditions of other modules (the certificate's expiry and rotation), set as given. */
  extraConditions?: ConditionUpdate[];
  /** The serving certificate, when TLS is on and its Secret is usable. */
  tls?: TLSStatus;
  /** What the pods serve (dataPathOf); status.tls is dropped when unknown. */
  dataPath?: TLSDataPath;
  /**
   * The Deployment this pass created (it did not exist before): Progressing
   * says so, since the first creation records no Event.
   */
  created?: { deployment: string; replicas: number; profile: string };
  now: Date;
}

function deploymentCondition(d: V1Deployment | undefined, type: string): V1DeploymentCondition | undefined {
  return findCondition(d?.status?.conditions, type);
}

/** Why the Deployment cannot make progress, if it cannot. */
function deploymentFailure(d: V1Deployment | undefined): string | undefined {
  const replicaFailure = deploymentCondition(d, 'ReplicaFailure');
  if (replicaFailure?.status === 'True') {
    return `Deployment cannot create pods: ${replicaFailure.message ?? replicaFailure.reason ?? 'ReplicaFailure'}`;
  }
  const progressing = deploymentCondition(d, 'Progressing');
  if (progressing?.status === 'False' && progressing.reason === 'ProgressDeadlineExceeded') {
    return `Deployment rollout stalled: ${progressing.message ?? 'progress deadline exceeded'}`;
  }
  return undefined;
}

/** What memcached arguments make it serve: -Z is TLS, a `notls:` listener adds plaintext (children/secret-mounts.ts). */
export function dataPathOf(args: readonly string[]): TLSDataPath {
  if (!args.includes('-Z')) return 'Plaintext';
  return args.some((a) => a.includes('notls:')) ? 'TLSAndPlaintext' : 'TLS';
}

/** What a Deployment's memcached container is set to serve; undefined without one. */
export function deploymentDataPath(d: V1Deployment | undefined): TLSDataPath | undefined {
  const container = d?.spec?.template?.spec?.containers?.find((c) => c.name === CONTAINER_NAME);
  return container ? dataPathOf(container.args ?? []) : undefined;
}

/** Desired replicas: the Deployment's when it exists, else what it will be created with. */
function desiredReplicas(input: StatusInput): number {
  return input.deployment?.spec?.replicas ?? input.mc.spec?.size ?? input.placement?.replicas ?? 0;
}

function condition(type: string, status: ConditionStatus, reason: string, message: string, generation?: number): ConditionUpdate {
  const c: ConditionUpdate = { type, status, reason, message };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

/**
 * The status for what was observed:
 * - Available: True (AllReplicasReady) when every desired replica is Ready,
 *   else False (ReplicasNotReady);
 * - Progressing: True while the Deployment is being created or rolled out
 *   (its controller has not seen the latest generation, or not every replica
 *   is updated and available, or old replicas remain), else False; in the
 *   pass that created the Deployment its message names it, its replicas and
 *   the placement profile (there is no Created Event);
 * - Degraded: True with InvalidSpec (the validator's message),
 *   ChildRejected (the apiserver refused a child built from the spec: its
 *   message), ChildWriteFailing (a child write keeps failing and is
 *   retried: the apiserver's message) or DeploymentFailed (ReplicaFailure or
 *   ProgressDeadlineExceeded), or the pods' own trouble (unschedulable,
 *   image pull, crash loop, OOM kill, failing probe: pods.ts), else
 *   False (AsExpected);
 * - one condition per placement notice.
 * Conditions the operator no longer reports (an old notice) are dropped;
 * lastTransitionTime is carried over from mc.status where status is unchanged.
 */
export function computeStatus(input: StatusInput): MemcachedStatus {
  const { mc, deployment: d, now } = input;
  const generation = mc.metadata.generation;
  const desired = desiredReplicas(input);
  const replicas = d?.status?.replicas ?? 0;
  const ready = d?.status?.readyReplicas ?? 0;
  const updated = d?.status?.updatedReplicas ?? 0;
  const available = d?.status?.availableReplicas ?? 0;

  const updates: ConditionUpdate[] = [];

  if (!d) {
    updates.push(condition(CONDITION_AVAILABLE, 'False', REASON.ReplicasNotReady, 'The Deployment does not exist yet', generation));
  } else if (desired > 0 && ready >= desired) {
    updates.push(condition(CONDITION_AVAILABLE, 'True', REASON.AllReplicasReady, `${ready}/${desired} replicas ready`, generation));
  } else {
    updates.push(condition(CONDITION_AVAILABLE, 'False', REASON.ReplicasNotReady, `${ready}/${desired} replicas ready`, generation));
  }

  if (!d) {
    updates.push(
      input.invalidMessage !== undefined || input.rejectedMessage !== undefined
        ? condition(
            CONDITION_PROGRESSING,
            'False',
            input.invalidMessage !== undefined ? REASON.InvalidSpec : REASON.ChildRejected,
            'Nothing is deployed until the spec is fixed',
            generation,
          )
        : condition(CONDITION_PROGRESSING, 'True', REASON.Creating, 'Creating the Deployment', generation),
    );
  } else {
    const seen = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
    const rolling = !seen || updated < desired || available < updated || replicas > updated;
    const createdNote = input.created ? `Created Deployment ${input.created.deployment} with ${input.created.replicas} replicas (${input.created.profile}); ` : '';
    updates.push(
      rolling
        ? condition(CONDITION_PROGRESSING, 'True', REASON.RollingOut, `${createdNote}${updated}/${desired} replicas updated, ${available} available`, generation)
        : condition(CONDITION_PROGRESSING, 'False', REASON.RolloutComplete, `${desired} replicas up to date`, generation),
    );
  }

  const failure = deploymentFailure(d);
  if (input.invalidMessage !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', REASON.InvalidSpec, input.invalidMessage, generation));
  } else if (input.secretProblem !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', input.secretProblem.reason, input.secretProblem.message, generation));
  } else if (input.rejectedMessage !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', REASON.ChildRejected, input.rejectedMessage, generation));
  } else if (input.writeFailingMessage !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', REASON.ChildWriteFailing, input.writeFailingMessage, generation));
  } else if (failure !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', REASON.DeploymentFailed, failure, generation));
  } else if (input.podTrouble !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', input.podTrouble.reason, input.podTrouble.message, generation));
  } else {
    updates.push(condition(CONDITION_DEGRADED, 'False', REASON.AsExpected, 'No problems observed', generation));
  }

  for (const extra of input.extraConditions ?? []) updates.push({ ...extra, ...(generation !== undefined ? { observedGeneration: generation } : {}) });
  for (const notice of input.placement?.notices ?? []) {
    updates.push(condition(notice.type, notice.status, notice.reason, notice.message, generation));
  }

  // Start from the previous conditions of the same types only, to keep their
  // transition times and order, then apply every update.
  const wanted = new Set(updates.map((u) => u.type));
  let conditions: Condition[] = (mc.status?.conditions ?? []).filter((c) => wanted.has(c.type));
  for (const u of updates) conditions = setCondition(conditions, u, now);

  const status: MemcachedStatus = { conditions };
  if (generation !== undefined) status.observedGeneration = generation;
  status.replicas = replicas;
  status.readyReplicas = ready;
  status.nodes = [...(input.readyPods ?? [])].sort();
  if (input.topology) {
    const t: TopologyStatus = {
      controlPlane: input.topology.controlPlane,
      infrastructure: input.topology.infrastructure,
      source: input.topology.source,
      schedulableNodes: input.topology.schedulableNodes,
    };
    if (input.placement) t.profile = input.placement.profile;
    status.topology = t;
  } else if (mc.status?.topology) {
    status.topology = { ...mc.status.topology };
  }
  if (input.dataPath) status.tls = { ...input.tls, dataPath: input.dataPath };
  return status;
}

/** JSON with object keys sorted and undefined members dropped, for order-insensitive comparison. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

function comparable(status: MemcachedStatus | undefined): unknown {
  const s = status ?? {};
  const conditions = [...(s.conditions ?? [])]
    .map(({ lastTransitionTime: _ignored, ...rest }) => rest)
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const { conditions: _c, ...rest } = s;
  return { ...rest, conditions };
}

/**
 * Whether two statuses say the same thing: key order, condition order and
 * lastTransitionTime (which setCondition moves only along with a status
 * change, so it adds no information) are ignored.
 */
export function statusEqual(a: MemcachedStatus | undefined, b: MemcachedStatus | undefined): boolean {
  return canonical(comparable(a)) === canonical(comparable(b));
}
