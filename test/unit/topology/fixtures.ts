// Node and Infrastructure fixtures shaped like the local cluster's profiles
// (test/cluster/cluster.sh), built here so the unit tests need no cluster.
import type { V1Node, V1Taint } from '@kubernetes/client-node';

export interface NodeOptions {
  zone?: string;
  /** node-role.kubernetes.io/<role> labels. */
  roles?: string[];
  /** Taint keys, all NoSchedule unless given as full taints. */
  taints?: (string | V1Taint)[];
  ready?: boolean | 'Unknown' | 'missing';
  unschedulable?: boolean;
  labels?: Record<string, string>;
}

export function node(name: string, options: NodeOptions = {}): V1Node {
  const labels: Record<string, string> = {
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    ...options.labels,
  };
  if (options.zone !== undefined) {
    labels['topology.kubernetes.io/region'] = 'local';
    labels['topology.kubernetes.io/zone'] = options.zone;
  }
  for (const role of options.roles ?? []) labels[`node-role.kubernetes.io/${role}`] = '';
  const taints = (options.taints ?? []).map((t) => (typeof t === 'string' ? { key: t, effect: 'NoSchedule' } : t));
  const ready = options.ready ?? true;
  const conditions =
    ready === 'missing'
      ? [{ type: 'MemoryPressure', status: 'False' }]
      : [
          { type: 'MemoryPressure', status: 'False' },
          { type: 'Ready', status: ready === true ? 'True' : ready === false ? 'False' : 'Unknown' },
        ];
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    spec: {
      ...(taints.length > 0 ? { taints } : {}),
      ...(options.unschedulable !== undefined ? { unschedulable: options.unschedulable } : {}),
    },
    status: { conditions },
  };
}

export const CP_ROLES = ['control-plane', 'master'];
export const CP_TAINTS = ['node-role.kubernetes.io/master', 'node-role.kubernetes.io/control-plane'];
export const ARBITER_TAINT = 'node-role.kubernetes.io/arbiter';
const ZONES = ['zone-a', 'zone-b', 'zone-c'];

export function infrastructure(controlPlaneTopology: unknown, infrastructureTopology: unknown): Record<string, unknown> {
  return {
    apiVersion: 'config.openshift.io/v1',
    kind: 'Infrastructure',
    metadata: { name: 'cluster' },
    spec: { platformSpec: { type: 'None' } },
    status: {
      controlPlaneTopology,
      infrastructureTopology,
      cpuPartitioning: 'None',
      infrastructureName: 'local-abcde',
      platform: 'None',
      platformStatus: { type: 'None' },
    },
  };
}

export interface ClusterProfile {
  name: string;
  nodes: V1Node[];
  /** undefined: no Infrastructure API (vanilla Kubernetes). */
  infrastructure: Record<string, unknown> | undefined;
}

/** The local cluster's profiles: the same nodes, roles, taints, zones and topology. */
export const PROFILES: Record<string, ClusterProfile> = {
  sno: {
    name: 'sno',
    nodes: [node('sno-0', { zone: 'zone-a', roles: [...CP_ROLES, 'worker'] })],
    infrastructure: infrastructure('SingleReplica', 'SingleReplica'),
  },
  compact: {
    name: 'compact',
    nodes: [0, 1, 2].map((i) => node(`master-${i}`, { zone: ZONES[i], roles: [...CP_ROLES, 'worker'] })),
    infrastructure: infrastructure('HighlyAvailable', 'HighlyAvailable'),
  },
  ha: {
    name: 'ha',
    nodes: [
      ...[0, 1, 2].map((i) => node(`master-${i}`, { zone: ZONES[i], roles: CP_ROLES, taints: CP_TAINTS })),
      ...[0, 1, 2].map((i) => node(`worker-${i}`, { zone: ZONES[i], roles: ['worker'] })),
    ],
    infrastructure: infrastructure('HighlyAvailable', 'HighlyAvailable'),
  },
  dual: {
    name: 'dual',
    nodes: [0, 1].map((i) => node(`master-${i}`, { zone: ZONES[i], roles: [...CP_ROLES, 'worker'] })),
    infrastructure: infrastructure('DualReplica', 'HighlyAvailable'),
  },
  arbiter: {
    name: 'arbiter',
    nodes: [
      ...[0, 1].map((i) => node(`master-${i}`, { zone: ZONES[i], roles: [...CP_ROLES, 'worker'] })),
      node('arbiter-0', { zone: 'zone-c', roles: ['arbiter'], taints: [ARBITER_TAINT] }),
    ],
    infrastructure: infrastructure('HighlyAvailableArbiter', 'HighlyAvailable'),
  },
  external: {
    name: 'external',
    nodes: [0, 1].map((i) => node(`worker-${i}`, { zone: ZONES[i], roles: ['worker'] })),
    infrastructure: infrastructure('External', 'HighlyAvailable'),
  },
  vanilla: {
    name: 'vanilla',
    nodes: [0, 1, 2].map((i) => node(`worker-${i}`, { roles: ['worker'] })),
    infrastructure: undefined,
  },
};
