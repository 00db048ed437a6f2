// Status of a Memcached, computed from what was observed. Pure: the
// reconciler writes the result only when statusEqual says it changed.
import type { V1StatefulSet } from '@kubernetes/client-node';
import { setCondition, type ConditionUpdate } from '@memcached-operator/runtime';
import type { Condition, ConditionStatus, Memcached, MemcachedStatus, ServerOperationStatus, ServerStatus, TLSStatus, TopologyStatus } from '../api/types.js';
import type { Placement } from '../topology/types.js';
import type { PodTrouble } from './pods.js';
import type { TLSDataPath } from '../api/types.js';
import { CONTAINER_NAME } from './children/statefulset.js';

export const CONDITION_AVAILABLE = 'Available';
export const CONDITION_PROGRESSING = 'Progressing';
export const CONDITION_DEGRADED = 'Degraded';

export const REASON = {
  AllReplicasReady: 'AllReplicasReady',
  ReplicasNotReady: 'ReplicasNotReady',
  InvalidSpec: 'InvalidSpec',
  ChildRejected: 'ChildRejected',
  ChildWriteFailing: 'ChildWriteFailing',
  AsExpected: 'AsExpected',
  RollingOut: 'RollingOut',
  Creating: 'Creating',
  RolloutComplete: 'RolloutComplete',
} as const;

export interface StatusInput {
  mc: Memcached;
  /** The StatefulSet as last observed; undefined when it does not exist (yet). */
  statefulSet?: V1StatefulSet;
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
   * The StatefulSet this pass created (it did not exist before): Progressing
   * says so, since the first creation records no Event.
   */
  created?: { statefulSet: string; replicas: number; profile: string };
  /** The servers (servers/): the published list, each server's state, the last operation, and what is still to do. */
  servers?: ServersReport;
  now: Date;
}

export interface ServersReport {
  serverList?: string[];
  servers: ServerStatus[];
  lastOperation?: ServerOperationStatus;
  /** What the servers are waiting for or still need (a step not taken yet), else undefined. */
  pending?: string;
}

/** What memcached arguments make it serve: -Z is TLS, a `notls:` listener adds plaintext (children/secret-mounts.ts). */
export function dataPathOf(args: readonly string[]): TLSDataPath {
  if (!args.includes('-Z')) return 'Plaintext';
  return args.some((a) => a.includes('notls:')) ? 'TLSAndPlaintext' : 'TLS';
}

/** What a StatefulSet's memcached container is set to serve; undefined without one. */
export function statefulSetDataPath(d: V1StatefulSet | undefined): TLSDataPath | undefined {
  const container = d?.spec?.template?.spec?.containers?.find((c) => c.name === CONTAINER_NAME);
  return container ? dataPathOf(container.args ?? []) : undefined;
}

/** Desired replicas: the StatefulSet's when it exists, else what it will be created with. */
function desiredReplicas(input: StatusInput): number {
  return input.statefulSet?.spec?.replicas ?? input.mc.spec?.size ?? input.placement?.replicas ?? 0;
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
 * - Progressing: True while the StatefulSet is being created, or a server
 *   is not available, or the servers have work left (servers/: a scale, a
 *   restart, a key copy), else False; in the
 *   pass that created the StatefulSet its message names it, its replicas and
 *   the placement profile (there is no Created Event);
 * - Degraded: True with InvalidSpec (the validator's message),
 *   ChildRejected (the apiserver refused a child built from the spec: its
 *   message), ChildWriteFailing (a child write keeps failing and is
 *   retried: the apiserver's message), or the pods' own trouble (unschedulable,
 *   image pull, crash loop, OOM kill, failing probe: pods.ts), else
 *   False (AsExpected);
 * - one condition per placement notice.
 * Conditions the operator no longer reports (an old notice) are dropped;
 * lastTransitionTime is carried over from mc.status where status is unchanged.
 */
export function computeStatus(input: StatusInput): MemcachedStatus {
  const { mc, statefulSet: d, now } = input;
  const generation = mc.metadata.generation;
  const desired = desiredReplicas(input);
  const replicas = d?.status?.replicas ?? 0;
  const ready = d?.status?.readyReplicas ?? 0;
  const available = d?.status?.availableReplicas ?? 0;

  const updates: ConditionUpdate[] = [];

  if (!d) {
    updates.push(condition(CONDITION_AVAILABLE, 'False', REASON.ReplicasNotReady, 'The StatefulSet does not exist yet', generation));
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
        : condition(CONDITION_PROGRESSING, 'True', REASON.Creating, 'Creating the StatefulSet', generation),
    );
  } else {
    // OnDelete: the operator brings each server to the template (servers/), so its own account says what is left.
    const seen = (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
    const pending = input.servers?.pending;
    const rolling = !seen || pending !== undefined || available < desired || replicas > desired;
    const createdNote = input.created ? `Created StatefulSet ${input.created.statefulSet} with ${input.created.replicas} replicas (${input.created.profile}); ` : '';
    updates.push(
      rolling
        ? condition(CONDITION_PROGRESSING, 'True', REASON.RollingOut, `${createdNote}${available}/${desired} replicas available${pending ? `; ${pending}` : ''}`, generation)
        : condition(CONDITION_PROGRESSING, 'False', REASON.RolloutComplete, `${desired} replicas up to date`, generation),
    );
  }

  if (input.invalidMessage !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', REASON.InvalidSpec, input.invalidMessage, generation));
  } else if (input.secretProblem !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', input.secretProblem.reason, input.secretProblem.message, generation));
  } else if (input.rejectedMessage !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', REASON.ChildRejected, input.rejectedMessage, generation));
  } else if (input.writeFailingMessage !== undefined) {
    updates.push(condition(CONDITION_DEGRADED, 'True', REASON.ChildWriteFailing, input.writeFailingMessage, generation));
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
  const servers = input.servers;
  if (servers?.serverList) status.serverList = servers.serverList;
  else if (mc.status?.serverList) status.serverList = mc.status.serverList;
  if (servers) status.servers = servers.servers;
  const lastOperation = servers?.lastOperation ?? mc.status?.lastOperation;
  if (lastOperation) status.lastOperation = lastOperation;
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
