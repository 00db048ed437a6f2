// TypeScript view of cache.example.com/v1alpha1 Memcached. The CRD YAML in
// config/crd/bases/ is the source of truth for the schema (and the runtime
// validator is built from it); these types only mirror it for the compiler.
import type { V1ObjectMeta, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';

export const GROUP = 'cache.example.com';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Memcached';
export const PLURAL = 'memcacheds';
export const FINALIZER = `${GROUP}/finalizer`;

export type HighAvailabilityMode = 'Auto' | 'Enabled' | 'Disabled';

export interface MemcachedSpec {
  /** Replicas. Unset means "let the cluster topology decide". */
  size?: number;
  containerPort?: number;
  image?: string;
  memoryLimitMB?: number;
  maxConnections?: number;
  threads?: number;
  /** memcached -I, for example "1m" or "512k". */
  maxItemSize?: string;
  extraArgs?: string[];
  resources?: V1ResourceRequirements;
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  priorityClassName?: string;
  highAvailability?: HighAvailabilityMode;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface TopologyStatus {
  controlPlane: string;
  infrastructure: string;
  source: 'Infrastructure' | 'Nodes' | 'Override';
  schedulableNodes: number;
  /** Placement profile applied (Placement.profile), shown in the Topology printer column. */
  profile?: string;
}

export interface MemcachedStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  /** Names of the memcached pods, which clients address through the headless Service. */
  nodes?: string[];
  topology?: TopologyStatus;
}

export interface Memcached {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec?: MemcachedSpec;
  status?: MemcachedStatus;
}
