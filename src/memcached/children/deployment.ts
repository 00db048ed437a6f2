// Desired state of a Memcached's Deployment. Pure: the reconciler applies it
// with server-side apply under a fixed field manager, so this sets only the
// fields the operator owns, in a stable order, and never an empty object or
// array the apiserver would drop (which would read back as a difference).
import type {
  V1Affinity,
  V1Container,
  V1ContainerPort,
  V1Deployment,
  V1DeploymentStrategy,
  V1PodSpec,
  V1Probe,
  V1TopologySpreadConstraint,
} from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { HOSTNAME_LABEL, NODE_ROLE_PREFIX, ZONE_LABEL } from '../../topology/detect.js';
import type { Placement } from '../../topology/types.js';
import { DEFAULT_PORT, renderArgs } from './args.js';
import { securityVolumes, tlsEnabled } from './secret-mounts.js';
import { crName, objectMeta, selectorLabels, standardLabels } from './metadata.js';
import { buildResources } from './resources.js';

export const CONTAINER_NAME = 'memcached';
export const PORT_NAME = 'memcached';
/** The plaintext listener beside a TLS port (spec.tls.plaintextPort). */
export const PLAINTEXT_PORT_NAME = 'plaintext';
/** uid of the `memcache` user of the official memcached images (Debian and Alpine). */
export const OFFICIAL_IMAGE_UID = 11211;

export interface DeploymentOptions {
  /** Image when spec.image is unset (RELATED_IMAGE_MEMCACHED, else the pinned default). */
  defaultImage: string;
  /**
   * Pod runAsUser, or undefined to leave it to the platform.
   *
   * The trade-off: the official memcached image declares `USER memcache`, a
   * name, not a number. With runAsNonRoot and no runAsUser the kubelet cannot
   * prove a named user is not root and refuses to start the container
   * (CreateContainerConfigError). Setting runAsUser (11211) fixes that on
   * plain Kubernetes, but on OpenShift the restricted-v2 SCC assigns an
   * arbitrary uid from the namespace's range and rejects any other value.
   * No single pod spec works on both, so the builder leaves it unset by
   * default (right on OpenShift, and for images with a numeric USER) and the
   * caller passes OFFICIAL_IMAGE_UID on clusters without OpenShift's SCCs.
   * memcached needs no particular uid: it writes nothing to disk.
   */
  runAsUser?: number;
  /** The Deployment as it runs now, if it exists: the rollout strategy depends on it. */
  live?: V1Deployment;
  /** Nodes the pods may run on (0 when unknown): with more nodes than replicas a surge pod always finds one. */
  schedulableNodes?: number;
  /**
   * Pod template annotations, such as the authfile's hash: memcached reads
   * the authfile only at start, so a changed one must roll the pods.
   */
  podAnnotations?: Record<string, string>;
}

function probe(periodSeconds: number, failureThreshold: number): V1Probe {
  return {
    tcpSocket: { port: PORT_NAME },
    periodSeconds,
    timeoutSeconds: 1,
    successThreshold: 1,
    failureThreshold,
  };
}

/** Replace pods one at a time: stop one, then start its successor. */
export const ONE_AT_A_TIME: V1DeploymentStrategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 1 } };
/** Start a new pod before an old one stops, so capacity never dips. */
export const SURGE_FIRST: V1DeploymentStrategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };

/**
 * How the Deployment rolls to a new template.
 *
 * A surge pod needs a node that no pod of the instance repels, and a pod
 * with Required anti-affinity repels every other pod of the instance from
 * its node. While such pods may run and the nodes are no more than the
 * replicas, there is no free node: surging would leave the new pod Pending
 * beside an old one that maxUnavailable 0 never stops (after nodes are
 * removed down to one, say). Pods are then replaced one at a time, as
 * they are when the placement asks for it (a staged transition).
 * Otherwise a new pod starts before an old one stops, so a single replica
 * is never down during a rollout if another node can take its successor.
 */
export function rolloutStrategy(placement: Placement, live: V1Deployment | undefined, schedulableNodes: number): V1DeploymentStrategy {
  if (placement.antiAffinity === 'Required' || placement.oneAtATime) return ONE_AT_A_TIME;
  if (!requiredPodsMayRun(live)) return SURGE_FIRST;
  return schedulableNodes > placement.replicas ? SURGE_FIRST : ONE_AT_A_TIME;
}

/**
 * Pods with Required anti-affinity may still run under this Deployment: its
 * template has it, or a one-at-a-time rollout away from it has not finished.
 * (Only such rollouts pair one-at-a-time with another template; a rollout
 * away from Required that surges needs no tracking, as a node is free.)
 */
export function requiredPodsMayRun(live: V1Deployment | undefined): boolean {
  if (live === undefined) return false;
  if (live.spec?.template?.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length) return true;
  const surge = live.spec?.strategy?.rollingUpdate?.maxSurge;
  const oneAtATime = surge !== undefined && String(surge) === '0';
  return oneAtATime && !rolloutFinished(live);
}

/**
 * The Deployment controller has seen the latest spec, and every pod it
 * counts runs the latest template (pods of older templates are gone or
 * terminating).
 */
export function rolloutFinished(d: V1Deployment): boolean {
  const status = d.status;
  if (!status || (status.observedGeneration ?? 0) < (d.metadata?.generation ?? 0)) return false;
  return (status.updatedReplicas ?? 0) === (status.replicas ?? 0);
}

export function buildAffinity(mc: Memcached, placement: Placement): V1Affinity | undefined {
  const affinity: V1Affinity = {};
  const roles = placement.excludedNodeRoles;
  if (roles.length > 0) {
    affinity.nodeAffinity = {
      requiredDuringSchedulingIgnoredDuringExecution: {
        // One term: its expressions are ANDed, so a node with any excluded role is out.
        nodeSelectorTerms: [
          {
            matchExpressions: roles.map((role) => ({ key: `${NODE_ROLE_PREFIX}${role}`, operator: 'DoesNotExist' })),
          },
        ],
      },
    };
  }
  const term = { labelSelector: { matchLabels: selectorLabels(mc) }, topologyKey: HOSTNAME_LABEL };
  if (placement.antiAffinity === 'Required') {
    affinity.podAntiAffinity = { requiredDuringSchedulingIgnoredDuringExecution: [term] };
  } else if (placement.antiAffinity === 'Preferred') {
    affinity.podAntiAffinity = { preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }] };
  }
  return Object.keys(affinity).length > 0 ? affinity : undefined;
}

export function buildTopologySpread(mc: Memcached, placement: Placement): V1TopologySpreadConstraint[] | undefined {
  if (!placement.zoneSpread) return undefined;
  return [
    {
      maxSkew: 1,
      topologyKey: ZONE_LABEL,
      whenUnsatisfiable: 'ScheduleAnyway',
      labelSelector: { matchLabels: selectorLabels(mc) },
      // Count only pods of the same revision, so a rollout is spread too.
      matchLabelKeys: ['pod-template-hash'],
    },
  ];
}

function containerPorts(spec: MemcachedSpec): V1ContainerPort[] {
  const ports: V1ContainerPort[] = [{ name: PORT_NAME, containerPort: spec.containerPort ?? DEFAULT_PORT, protocol: 'TCP' }];
  if (tlsEnabled(spec) && spec.tls?.plaintextPort !== undefined) {
    ports.push({ name: PLAINTEXT_PORT_NAME, containerPort: spec.tls.plaintextPort, protocol: 'TCP' });
  }
  return ports;
}

export function buildContainer(spec: MemcachedSpec, placement: Placement, image: string): V1Container {
  return {
    name: CONTAINER_NAME,
    image,
    // The official image's entrypoint would prepend `memcached` to args that
    // start with "-"; naming the binary works with any memcached image.
    command: ['memcached'],
    args: renderArgs(spec),
    ports: containerPorts(spec),
    livenessProbe: probe(10, 3),
    readinessProbe: probe(5, 1),
    resources: buildResources(spec, placement.resourceProfile),
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    },
  };
}

/**
 * The Deployment `<cr name>` of a Memcached. spec must be defaulted and
 * valid; replicas are the placement's.
 */
export function buildDeployment(
  mc: Memcached,
  spec: MemcachedSpec,
  placement: Placement,
  opts: DeploymentOptions,
): V1Deployment {
  const podSpec: V1PodSpec = {
    // memcached talks to no API and reads no environment.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // Satisfies PodSecurity "restricted" and OpenShift's restricted-v2 SCC.
    securityContext: {
      runAsNonRoot: true,
      ...(opts.runAsUser !== undefined ? { runAsUser: opts.runAsUser } : {}),
      seccompProfile: { type: 'RuntimeDefault' },
    },
    containers: [buildContainer(spec, placement, spec.image ?? opts.defaultImage)],
  };
  const security = securityVolumes(mc, spec);
  if (security.volumes.length > 0) {
    podSpec.containers[0].volumeMounts = security.mounts;
    podSpec.volumes = security.volumes;
  }
  if (spec.nodeSelector && Object.keys(spec.nodeSelector).length > 0) podSpec.nodeSelector = { ...spec.nodeSelector };
  if (spec.tolerations && spec.tolerations.length > 0) podSpec.tolerations = spec.tolerations.map((t) => ({ ...t }));
  if (spec.priorityClassName) podSpec.priorityClassName = spec.priorityClassName;
  const affinity = buildAffinity(mc, placement);
  if (affinity) podSpec.affinity = affinity;
  const spread = buildTopologySpread(mc, placement);
  if (spread) podSpec.topologySpreadConstraints = spread;

  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: objectMeta(mc, crName(mc)),
    spec: {
      // The placement already honours spec.size; it may hold replicas back
      // while a transition is staged.
      replicas: placement.replicas,
      selector: { matchLabels: selectorLabels(mc) },
      strategy: rolloutStrategy(placement, opts.live, opts.schedulableNodes ?? 0),
      template: {
        metadata: {
          labels: standardLabels(mc),
          ...(opts.podAnnotations && Object.keys(opts.podAnnotations).length > 0 ? { annotations: { ...opts.podAnnotations } } : {}),
        },
        spec: orderPodSpec(podSpec),
      },
    },
  };
}

const POD_SPEC_ORDER: (keyof V1PodSpec)[] = [
  'automountServiceAccountToken',
  'enableServiceLinks',
  'securityContext',
  'nodeSelector',
  'tolerations',
  'priorityClassName',
  'affinity',
  'topologySpreadConstraints',
  'containers',
  'volumes',
];

/** The pod spec's keys in one fixed order, whatever order they were set in. */
function orderPodSpec(podSpec: V1PodSpec): V1PodSpec {
  const ordered: Record<string, unknown> = {};
  for (const key of POD_SPEC_ORDER) {
    if (podSpec[key] !== undefined) ordered[key] = podSpec[key];
  }
  return ordered as unknown as V1PodSpec;
}
