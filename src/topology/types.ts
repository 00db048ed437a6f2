// The contract between topology detection (what the cluster looks like) and
// the desired-state builders (how memcached is laid out on it).
import type { V1Node } from '@kubernetes/client-node';

/** Values of config.openshift.io/v1 Infrastructure status.controlPlaneTopology. */
export type ControlPlaneTopology =
  | 'HighlyAvailable'
  | 'HighlyAvailableArbiter'
  | 'SingleReplica'
  | 'DualReplica'
  | 'External';

/** Values of config.openshift.io/v1 Infrastructure status.infrastructureTopology. */
export type InfrastructureTopology = 'HighlyAvailable' | 'SingleReplica';

/** What the operator knows about the cluster it runs on. */
export interface ClusterTopology {
  controlPlane: ControlPlaneTopology;
  infrastructure: InfrastructureTopology;
  /** Where the topology came from: the Infrastructure object, or counting nodes. */
  source: 'Infrastructure' | 'Nodes';
  /** Ready nodes without a NoSchedule/NoExecute taint that memcached does not tolerate. */
  schedulableNodes: number;
  /** Distinct topology.kubernetes.io/zone values among the schedulable nodes. */
  zones: number;
}

export type AntiAffinity = 'None' | 'Preferred' | 'Required';

/** A status condition the sizing wants reported (for example "no HA on one node"). */
export interface PlacementNotice {
  type: string;
  status: 'True' | 'False';
  reason: string;
  message: string;
}

/** How one Memcached is laid out on the cluster; the output of the sizing rules. */
export interface Placement {
  /** Short name of the profile applied, shown in the Topology printer column. */
  profile: string;
  replicas: number;
  antiAffinity: AntiAffinity;
  /** Spread over topology.kubernetes.io/zone with whenUnsatisfiable: ScheduleAnyway. */
  zoneSpread: boolean;
  /** A PodDisruptionBudget with maxUnavailable 1 and unhealthyPodEvictionPolicy AlwaysAllow. */
  podDisruptionBudget: boolean;
  /** node-role.kubernetes.io/<role> labels whose nodes the pods must never land on. */
  excludedNodeRoles: string[];
  /** Default requests/limits when the spec sets none: Small on a single node. */
  resourceProfile: 'Small' | 'Standard';
  notices: PlacementNotice[];
  /**
   * Set while a move away from Required anti-affinity is staged to add
   * servers beyond the nodes: the running servers that still have Required
   * are replaced first, one at a time (servers/changes.ts).
   */
  oneAtATime?: true;
}

/** What the operator currently knows about the cluster's shape (the topology watcher provides it). */
export interface ClusterView {
  /** The Infrastructure "cluster" object, or undefined when the API or the object is absent. */
  infrastructure(): unknown;
  nodes(): V1Node[];
  /** Why detection had to fall back (missing RBAC, missing object), if it did. */
  warnings(): string[];
  /** Whether this is OpenShift (the config.openshift.io API is served). */
  isOpenShift(): boolean;
  /** False until nodes and the Infrastructure API are known; sizing waits for it. */
  hasSynced?(): boolean;
}
