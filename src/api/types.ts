// TypeScript view of cache.example.com/v1alpha1 Memcached. The CRD YAML in
// config/crd/bases/ is the source of truth for the schema (and the runtime
// validator is built from it); these types only mirror it for the compiler.
import type { V1ObjectMeta, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';
import type { Condition, ConditionStatus } from '@memcached-operator/runtime';

export const GROUP = 'cache.example.com';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Memcached';
export const PLURAL = 'memcacheds';
/**
 * The finalizer versions up to 0.1.x put on every Memcached. It is no longer
 * added (owner references remove the children; nothing outside the cluster
 * needs cleaning up, and a finalizer blocks deletion while the operator is
 * down); the operator removes it from objects that still carry it.
 */
export const LEGACY_FINALIZER = `${GROUP}/finalizer`;

export type HighAvailabilityMode = 'Auto' | 'Enabled' | 'Disabled';

/** Whether memcached asks clients for a certificate (Request) or refuses those without one (Require). */
export type ClientCertificateMode = 'Require' | 'Request';

export interface MemcachedTLS {
  enabled?: boolean;
  /** A kubernetes.io/tls Secret; unset means `<name>-tls` (OpenShift's service CA fills it). */
  secretName?: string;
  /** A Secret whose ca.crt signs client certificates: turns on mutual TLS. */
  clientCASecretName?: string;
  clientCertificates?: ClientCertificateMode;
  /** A second, plaintext listener for clients that have not moved to TLS yet. */
  plaintextPort?: number;
}

export interface MemcachedAuth {
  /** A Secret whose `authfile` key holds memcached's authfile: one `user:password` per line. */
  secretName: string;
}

/**
 * Per-Memcached overrides of the alert thresholds (src/memcached/monitoring/alerts.ts
 * holds the defaults). Percentages are whole numbers so the CRD needs no floats.
 */
export interface MemcachedAlertOverrides {
  connectionsWarningPercent?: number;
  connectionsCriticalPercent?: number;
  /** Evictions per second, sustained, that warn; a decimal string such as "0.5". */
  evictionsPerSecond?: string;
  hitRatioPercent?: number;
  /** Gets per second that make the cache busy enough for the hit-ratio alert; a decimal string. */
  hitRatioMinGetsPerSecond?: string;
  /** Prometheus durations ("30s", "2m") the conditions must hold before the alerts fire. */
  downFor?: string;
  evictingFor?: string;
  lowHitRatioFor?: string;
}

export interface MemcachedMonitoring {
  /** Default true: a PodMonitor and a PrometheusRule when the monitoring.coreos.com API is served. */
  enabled?: boolean;
  /** Run this exporter image (for example the common memcached exporter) as a sidecar instead of the operator's multi-target exporter. */
  exporterImage?: string;
  /** Prometheus scrape interval, for example "30s". */
  interval?: string;
  alerts?: MemcachedAlertOverrides;
}

/**
 * Learning the cache's usual levels and reporting departures (the Anomalous
 * condition). Decimal strings and durations as the CRD writes them.
 */
export interface MemcachedAnomalyDetection {
  /** Default false. */
  enabled?: boolean;
  /** Multiples of a signal's usual spread that count as a departure; a decimal string such as "4". */
  factor?: string;
  /** How long to watch before flagging anything, such as "24h". */
  learningPeriod?: string;
}

/**
 * The auto pilot: the cache sized to its load from the operator's own stats
 * poll (docs/autopilot.md). src/memcached/autopilot/settings.ts turns it into
 * numbers; the CRD holds the defaults.
 */
export interface MemcachedAutoscaling {
  /** Default false: spec.size and memoryLimitMB stay in charge. */
  enabled?: boolean;
  /** Unset: 2 on a highly available placement, 1 on a single node. */
  minReplicas?: number;
  /** Required when enabled. */
  maxReplicas?: number;
  targetMemoryPercent?: number;
  /** Evictions per second over the cache above which it grows; a decimal string such as "1". */
  evictionsPerSecond?: string;
  /** Durations such as "5m" (s, m and h). */
  evictingFor?: string;
  scaleOutCooldown?: string;
  scaleInCooldown?: string;
  /** The most memory per server before servers are added; unset means no vertical scaling. */
  maxMemoryLimitMB?: number;
  anomalyDetection?: MemcachedAnomalyDetection;
}

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
  tls?: MemcachedTLS;
  auth?: MemcachedAuth;
  monitoring?: MemcachedMonitoring;
  autoscaling?: MemcachedAutoscaling;
}

/** metav1.Condition, from the runtime's conditions toolkit. */
export type { Condition, ConditionStatus };

export interface TopologyStatus {
  controlPlane: string;
  infrastructure: string;
  source: 'Infrastructure' | 'Nodes' | 'Override';
  schedulableNodes: number;
  /** Placement profile applied (Placement.profile), shown in the Topology printer column. */
  profile?: string;
}

/**
 * What memcached's pod template serves clients on: TLS only, TLS with a
 * second plaintext listener (tls.plaintextPort), or plaintext only.
 */
export type TLSDataPath = 'TLS' | 'TLSAndPlaintext' | 'Plaintext';

/** The serving certificate, when spec.tls is enabled and its Secret is usable. */
export interface TLSStatus {
  secretName: string;
  /** Upper-case hex, as TLS clients report it. */
  serialNumber: string;
  notAfter: string;
  /** The serial every Ready pod was last verified (in a TLS handshake) to serve. */
  servedSerialNumber?: string;
}

export interface MemcachedStatus {
  conditions?: Condition[];
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  /** Names of the memcached pods, which clients address through the headless Service. */
  nodes?: string[];
  topology?: TopologyStatus;
  tls?: MemcachedTLSStatus;
  /**
   * `host:port` of every server, in order, from the desired replica count
   * (not readiness): the list clients hash keys over (docs/clients.md). The
   * ConfigMap `<name>-servers` holds the same list.
   */
  serverList?: string[];
  /** Each server and whether it holds its keys. */
  servers?: ServerStatus[];
  /** The last operation on the servers that moved or kept keys. */
  lastOperation?: ServerOperationStatus;
  /** What the auto pilot has in effect and why, while spec.autoscaling is enabled. */
  autoscaling?: AutoscalingStatus;
}

/** What the auto pilot may do: replicas out or in, every server's memory up or down, or nothing. */
export type AutoscalingAction = 'ScaleOut' | 'ScaleIn' | 'GrowMemory' | 'ShrinkMemory' | 'None';

/** The last poll's signals a decision saw. Rates are decimal strings and shares whole percents: the CRD has no floats. */
export interface AutoscalingSignalsStatus {
  memoryUsedPercent?: number;
  memoryUsedPercentMax?: number;
  evictionsPerSecond?: string;
  hitRatioPercent?: number;
  requestsPerSecond?: string;
  connections?: number;
}

export interface AutoscalingDecisionStatus {
  time: string;
  action: AutoscalingAction;
  /** Replicas (ScaleOut, ScaleIn, None) or megabytes per server (GrowMemory, ShrinkMemory), before and after. */
  from?: number;
  to?: number;
  /** CamelCase, such as MemoryFullAndEvicting or CoolingDown. */
  reason: string;
  message?: string;
  signals?: AutoscalingSignalsStatus;
}

export interface AutoscalingStatus {
  currentReplicas?: number;
  /** The replicas in effect in place of spec.size. */
  desiredReplicas?: number;
  /** The bounds in effect, after the topology's. */
  minReplicas?: number;
  maxReplicas?: number;
  /** The memory per server in effect in place of spec.memoryLimitMB. */
  memoryLimitMB?: number;
  /** The spec.size and spec.memoryLimitMB the values in effect last took in: a spec that differs is a new starting point. */
  specSize?: number;
  specMemoryLimitMB?: number;
  /** When the last change of replicas or memory ended; the cooldowns count from it. */
  lastScaleTime?: string;
  lastDecision?: AutoscalingDecisionStatus;
}

/**
 * Warm: Ready, with its keys. Warming: Ready, keys being copied to it.
 * Restarting: restarting in place (its items are restored from memory).
 * Starting: a new or replaced pod, not Ready yet.
 */
export type ServerState = 'Warm' | 'Warming' | 'Restarting' | 'Starting';

export interface ServerStatus {
  name: string;
  state: ServerState;
  /** The pod's uid: a different one next time means the server was replaced (its keys are gone). */
  podUID?: string;
}

export type ServerOperationType = 'WarmRestart' | 'Resize' | 'ScaleUp' | 'ScaleDown' | 'Replace' | 'Migrate';

export interface ServerOperationStatus {
  type: ServerOperationType;
  phase: 'Running' | 'Succeeded' | 'Failed';
  /** The server it is on, when one (empty between two servers of a rollout). */
  server?: string;
  startedAt: string;
  finishedAt?: string;
  /** Items the server(s) held before; items held, restored or copied after. */
  keysBefore?: number;
  keysKept?: number;
  /** Where a multi-step operation on the server is (Restarting: memcached was asked to restart). */
  stage?: string;
  message: string;
}

/** status.tls: whether clients' traffic is encrypted and, with TLS on, the serving certificate. */
export interface MemcachedTLSStatus extends Partial<TLSStatus> {
  dataPath: TLSDataPath;
}

export interface Memcached {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec?: MemcachedSpec;
  status?: MemcachedStatus;
}
