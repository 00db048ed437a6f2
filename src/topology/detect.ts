// Topology detection: what the cluster looks like, from the OpenShift
// Infrastructure object when there is one and from the Nodes otherwise.
//
// Everything here is pure: the caller fetches the objects, passes them in and
// logs or reports the warnings that come back. Nothing here throws on a
// malformed object; anything it cannot read counts as HighlyAvailable, which
// is what OpenShift's own operators assume for an empty value.
import type { V1Node, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { isConditionTrue } from '@memcached-operator/runtime';
import type { ClusterTopology, ControlPlaneTopology, InfrastructureTopology } from './types.js';

// Kubernetes's well-known node labels: detection reads them, and the
// Deployment's affinity and spread name them.
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const NODE_ROLE_PREFIX = 'node-role.kubernetes.io/';
/** Arbiter nodes (HighlyAvailableArbiter clusters) only keep etcd quorum; memcached never runs there. */
export const ARBITER_ROLE = 'arbiter';
export const ARBITER_LABEL = `${NODE_ROLE_PREFIX}${ARBITER_ROLE}`;

const CONTROL_PLANE_VALUES: readonly ControlPlaneTopology[] = [
  'HighlyAvailable',
  'HighlyAvailableArbiter',
  'SingleReplica',
  'DualReplica',
  'External',
];
// External is valid for the control plane only (see the Infrastructure CRD).
const INFRASTRUCTURE_VALUES: readonly InfrastructureTopology[] = ['HighlyAvailable', 'SingleReplica'];

/** The two topology fields of an Infrastructure object, and what was wrong with it. */
export interface InfrastructureTopologies {
  controlPlane: ControlPlaneTopology;
  infrastructure: InfrastructureTopology;
  /** One line per problem, for the caller to log or report; empty when the object was well formed. */
  warnings: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string from the API, quoted, escaped to one line and shortened, safe to put in a log line. */
function quote(value: string): string {
  const text = JSON.stringify(value);
  return text.length > 64 ? `${text.slice(0, 60)}..."` : text;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

function readTopologyField<T extends string>(
  status: Record<string, unknown>,
  field: string,
  known: readonly T[],
  fallback: T,
  warnings: string[],
): T {
  const value = status[field];
  if (value === undefined || value === null || value === '') {
    warnings.push(`status.${field} is empty; treating it as ${fallback}`);
    return fallback;
  }
  if (typeof value !== 'string') {
    warnings.push(`status.${field} is ${typeName(value)}, not a string; treating it as ${fallback}`);
    return fallback;
  }
  if (!(known as readonly string[]).includes(value)) {
    warnings.push(`status.${field} ${quote(value)} is not a known value; treating it as ${fallback}`);
    return fallback;
  }
  return value as T;
}

/**
 * Reads status.controlPlaneTopology and status.infrastructureTopology from a
 * config.openshift.io/v1 Infrastructure object of any shape. Missing, empty,
 * mistyped or unknown values count as HighlyAvailable, each with a warning.
 */
export function topologyFromInfrastructure(obj: unknown): InfrastructureTopologies {
  const ha = { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable' } as const;
  if (!isRecord(obj)) {
    return {
      ...ha,
      warnings: [`the Infrastructure object is ${typeName(obj)}, not an object; treating the cluster as HighlyAvailable`],
    };
  }
  const metadata = obj.metadata;
  const rawName = isRecord(metadata) ? metadata.name : undefined;
  const name = typeof rawName === 'string' && rawName !== '' ? rawName : 'cluster';
  const status = obj.status;
  if (status === undefined || status === null) {
    return {
      ...ha,
      warnings: [`Infrastructure ${quote(name)} has no status yet; treating the cluster as HighlyAvailable`],
    };
  }
  if (!isRecord(status)) {
    return {
      ...ha,
      warnings: [
        `Infrastructure ${quote(name)} has a status that is ${typeName(status)}, not an object; treating the cluster as HighlyAvailable`,
      ],
    };
  }
  const warnings: string[] = [];
  const controlPlane = readTopologyField(status, 'controlPlaneTopology', CONTROL_PLANE_VALUES, 'HighlyAvailable', warnings);
  const infrastructure = readTopologyField(
    status,
    'infrastructureTopology',
    INFRASTRUCTURE_VALUES,
    'HighlyAvailable',
    warnings,
  );
  return { controlPlane, infrastructure, warnings };
}

/**
 * Kubernetes toleration matching (as the scheduler does it): the effect must
 * match unless the toleration's is empty; the key must match unless it is
 * empty, and an empty key is only valid with operator Exists (the API server
 * rejects an empty key with Equal, so such a toleration tolerates nothing);
 * Exists matches any value, Equal (the default) needs the same value.
 */
export function toleratesTaint(toleration: V1Toleration, taint: V1Taint): boolean {
  const effect = toleration.effect ?? '';
  if (effect !== '' && effect !== taint.effect) return false;
  const operator = toleration.operator ?? '';
  const key = toleration.key ?? '';
  if (key === '') return operator === 'Exists';
  if (key !== taint.key) return false;
  switch (operator) {
    case 'Exists':
      return true;
    case '':
    case 'Equal':
      return (toleration.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/** Whether a pod with these tolerations may be scheduled despite the node's NoSchedule/NoExecute taints. */
export function toleratesNodeTaints(taints: readonly V1Taint[] | undefined, tolerations: readonly V1Toleration[]): boolean {
  return (taints ?? []).every(
    (taint) =>
      !isRecord(taint) ||
      (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') ||
      tolerations.some((toleration) => toleratesTaint(toleration, taint)),
  );
}

function isReady(node: V1Node): boolean {
  return isConditionTrue(node.status?.conditions, 'Ready');
}

/** Whether the node carries node-role.kubernetes.io/<role> (with any value). */
export function hasNodeRole(node: V1Node, role: string): boolean {
  const labels = node.metadata?.labels;
  return isRecord(labels) && Object.prototype.hasOwnProperty.call(labels, `${NODE_ROLE_PREFIX}${role}`);
}

/**
 * The nodes a memcached pod could be scheduled on: Ready, not cordoned, with
 * no NoSchedule/NoExecute taint the tolerations do not tolerate, matching
 * the node selector, and never an arbiter node.
 */
export function schedulableNodes(
  nodes: readonly V1Node[],
  tolerations: readonly V1Toleration[] = [],
  nodeSelector: Readonly<Record<string, string>> = {},
): V1Node[] {
  const selector = Object.entries(nodeSelector);
  return nodes.filter((node) => {
    // Lists from the API hold objects; anything else is not a node we can use.
    if (typeof node !== 'object' || node === null) return false;
    if (!isReady(node)) return false;
    if (node.spec?.unschedulable === true) return false;
    if (hasNodeRole(node, ARBITER_ROLE)) return false;
    if (!toleratesNodeTaints(node.spec?.taints, tolerations)) return false;
    const labels = node.metadata?.labels ?? {};
    return selector.every(([key, value]) => labels[key] === value);
  });
}

/** Distinct, non-empty topology.kubernetes.io/zone values among the nodes. */
export function countZones(nodes: readonly V1Node[]): number {
  const zones = new Set<string>();
  for (const node of nodes) {
    if (typeof node !== 'object' || node === null) continue;
    const zone = node.metadata?.labels?.[ZONE_LABEL];
    if (typeof zone === 'string' && zone !== '') zones.add(zone);
  }
  return zones.size;
}

export interface TopologyInput {
  /** The Infrastructure "cluster" object; undefined when the CRD or the object does not exist. */
  infrastructure?: unknown;
  nodes: readonly V1Node[];
}

export interface DetectedClusterTopology {
  topology: ClusterTopology;
  warnings: string[];
}

/**
 * The cluster's topology. With an Infrastructure object its two fields decide
 * (source Infrastructure); without one (vanilla Kubernetes) the schedulable
 * nodes do: one node is SingleReplica, two or more HighlyAvailable, none yet
 * HighlyAvailable with a warning. Nodes are counted as schedulable for the
 * operand's default tolerations, which are none.
 */
export function clusterTopology(input: TopologyInput): DetectedClusterTopology {
  const schedulable = schedulableNodes(input.nodes);
  const counts = { schedulableNodes: schedulable.length, zones: countZones(schedulable) };
  const noNodes =
    'no schedulable nodes yet (Ready, not cordoned, not an arbiter, no untolerated NoSchedule/NoExecute taint)';
  if (input.infrastructure !== undefined) {
    const { controlPlane, infrastructure, warnings } = topologyFromInfrastructure(input.infrastructure);
    if (schedulable.length === 0) warnings.push(`${noNodes}; memcached pods will stay Pending until one appears`);
    return { topology: { controlPlane, infrastructure, source: 'Infrastructure', ...counts }, warnings };
  }
  if (schedulable.length === 1) {
    return {
      topology: { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica', source: 'Nodes', ...counts },
      warnings: [],
    };
  }
  const warnings = schedulable.length === 0 ? [`${noNodes}; treating the cluster as HighlyAvailable`] : [];
  return {
    topology: { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', source: 'Nodes', ...counts },
    warnings,
  };
}
