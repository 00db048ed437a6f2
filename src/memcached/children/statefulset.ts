// Desired state of a Memcached's StatefulSet. Pure: the reconciler applies it
// with server-side apply under a fixed field manager, so this sets only the
// fields the operator owns, in a stable order, and never an empty object or
// array the apiserver would drop (which would read back as a difference).
import type {
  V1Affinity,
  V1Container,
  V1ContainerPort,
  V1EnvVar,
  V1Lifecycle,
  V1PodSpec,
  V1Probe,
  V1PodTemplateSpec,
  V1StatefulSet,
  V1Volume,
  V1VolumeMount,
  V1TopologySpreadConstraint,
} from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { HOSTNAME_LABEL, NODE_ROLE_PREFIX, ZONE_LABEL } from '../../topology/detect.js';
import type { Placement } from '../../topology/types.js';
import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MEMORY_LIMIT_MB, DEFAULT_PORT, renderArgs } from './args.js';
import { securityVolumes, tlsEnabled } from './secret-mounts.js';
import { crName, objectMeta, selectorLabels, serversServiceName, standardLabels } from './metadata.js';
import { buildResources, containerMemoryMi, quantityValue } from './resources.js';

export const CONTAINER_NAME = 'memcached';
export const PORT_NAME = 'memcached';
/** The plaintext listener beside a TLS port (spec.tls.plaintextPort). */
export const PLAINTEXT_PORT_NAME = 'plaintext';
/** uid of the `memcache` user of the official memcached images (Debian and Alpine). */
export const OFFICIAL_IMAGE_UID = 11211;

export interface StatefulSetOptions {
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
  /** The StatefulSet's replicas: the published servers plus any being added (servers/scaling.ts). */
  replicas: number;
  /**
   * Pod template annotations, such as the authfile's hash: memcached reads
   * the authfile only at start, so the operator restarts each server in place
   * (warm) when it changes.
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

/** A pod spec (a template's or a running pod's) with Required anti-affinity. */
export function hasRequiredAntiAffinity(spec: { affinity?: V1Affinity } | undefined): boolean {
  return !!spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.length;
}

/**
 * Pods with Required anti-affinity may still run: the template asks for it,
 * or a running pod still has it. A pod keeps the affinity it was scheduled
 * with until it is replaced (servers/changes.ts replaces such pods once the
 * template drops it, since they keep every new pod off their nodes).
 */
export function requiredPodsMayRun(live: V1StatefulSet | undefined, pods: readonly { spec?: { affinity?: V1Affinity } }[] = []): boolean {
  return hasRequiredAntiAffinity(live?.spec?.template?.spec) || pods.some((p) => hasRequiredAntiAffinity(p.spec));
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
      matchLabelKeys: ['controller-revision-hash'],
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

/** Where memcached keeps its items: a RAM-backed emptyDir, so they outlive a container restart (warm restart). */
export const CACHE_VOLUME = 'cache';
export const CACHE_DIR = '/cache';
/** memcached -e: the items are a memory-mapped file here; `.meta` beside it is written on a graceful stop. */
export const MEMORY_FILE = `${CACHE_DIR}/memory`;
/** The pod annotation memcached's -m comes from (through MEMORY_ENV), so memory changes in place, without a new pod. */
export const MEMORY_ANNOTATION = 'cache.example.com/memory-mb';
export const MEMORY_ENV = 'MEMCACHED_MEMORY_MB';
/**
 * The RAM disk's size (MiB) as the kubelet mounts it when the pod starts:
 * the smaller of its sizeLimit and the container's memory limit then. A pod
 * keeps the annotation its template had; a memory limit raised in place
 * later does not grow the mounted disk, and a -m file past it dies of SIGBUS.
 */
export const RAM_DISK_ANNOTATION = 'cache.example.com/ram-disk-mi';
/** Hash of the pod spec parts that only a new pod can change (servers/changes.ts). */
export const POD_SPEC_HASH_ANNOTATION = 'cache.example.com/pod-spec-hash';

/**
 * memcached restores its items only when it starts in a later second than it
 * stopped (its restart metadata records the stop time; an equal one is
 * refused as a clock gone wrong), and the kubelet may restart a container
 * within the same second. So the wrapper waits a second when a saved cache
 * is there. `exec` makes memcached PID 1 again, which the stop hook signals.
 */
const START = `if [ -e ${MEMORY_FILE}.meta ]; then sleep 1; fi; exec memcached "$@"`;

/**
 * On any stop (a changed image, the operator's restart, a deleted pod), ask
 * memcached for a graceful stop (SIGUSR1), which saves the restart metadata,
 * and wait until it is being written: the kubelet's SIGTERM that follows
 * would otherwise turn the graceful stop into a plain one (once the save has
 * begun it changes nothing). Bounded by 10 s. memcached exits right after
 * the save, and its exit ends the hook with it; the hook returns first only
 * when it sees the file in time, so the kubelet may record FailedPreStopHook
 * for a stop that went as planned.
 */
const STOP = `kill -USR1 1; i=0; while [ ! -e ${MEMORY_FILE}.meta ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done`;

const LIFECYCLE: V1Lifecycle = { preStop: { exec: { command: ['/bin/sh', '-c', STOP] } } };

const MEMORY_FROM_ANNOTATION: V1EnvVar = {
  name: MEMORY_ENV,
  valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${MEMORY_ANNOTATION}']` } },
};

export function buildContainer(spec: MemcachedSpec, placement: Placement, image: string): V1Container {
  return {
    name: CONTAINER_NAME,
    image,
    // A POSIX shell starts memcached (START): the official images have one.
    command: ['/bin/sh', '-c', START, 'memcached'],
    args: renderArgs(spec, { memory: `$(${MEMORY_ENV})`, memoryFile: MEMORY_FILE }),
    env: [MEMORY_FROM_ANNOTATION],
    ports: containerPorts(spec),
    livenessProbe: probe(10, 3),
    readinessProbe: probe(5, 1),
    resources: buildResources(spec, placement.resourceProfile),
    // Memory changes in place; the operator restarts memcached itself when -m changes.
    resizePolicy: [
      { resourceName: 'cpu', restartPolicy: 'NotRequired' },
      { resourceName: 'memory', restartPolicy: 'NotRequired' },
    ],
    lifecycle: LIFECYCLE,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    },
  };
}

/** Room on the RAM disk beside the -e file: its `.meta`, written on a graceful stop (servers/changes.ts keeps the same room when it raises -m in place). */
export const MEMORY_FILE_SLACK_MI = 16;
/** The most a -m may be raised in place, as a multiple of the -m the pod started with. */
export const IN_PLACE_RAISE_FACTOR = 4;

/**
 * The RAM disk's size limit (MiB) for memcached -m memoryMB in a container
 * whose memory limit is containerLimitMi: the -e file (-m MiB and its .meta)
 * and room for a -m raised in place (a running pod's volumes cannot change;
 * servers/changes.ts raises -m in place while the new -m and the slack fit
 * the sizeLimit, else replaces the pod), but never above the container's
 * memory limit. The kubelet mounts a memory-backed emptyDir once, when the
 * pod starts, with the smaller of its sizeLimit and the pod's memory limit;
 * a sizeLimit above that limit promised room the tmpfs did not have, and
 * memcached dies of SIGBUS when its file grows past the tmpfs (a control in
 * test/integration/memory shows it). So a raise in place is allowed only
 * up to the limit the pod started with, and it stays within the container's
 * limit because the operator resizes that limit to the new -m's with it.
 * tmpfs takes memory only as it is written, charged to the container.
 */
export function cacheVolumeMi(memoryMB: number, containerLimitMi: number): number {
  return Math.min(IN_PLACE_RAISE_FACTOR * memoryMB + MEMORY_FILE_SLACK_MI, Math.floor(containerLimitMi));
}

function cacheVolume(spec: MemcachedSpec, container: V1Container): { volume: V1Volume; mount: V1VolumeMount } {
  const memoryMB = spec.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB;
  const limit = container.resources?.limits?.memory;
  const limitBytes = limit === undefined ? undefined : quantityValue(limit);
  const limitMi = limitBytes === undefined ? containerMemoryMi(memoryMB, spec.maxConnections ?? DEFAULT_MAX_CONNECTIONS) : limitBytes / 2 ** 20;
  const sizeMi = cacheVolumeMi(memoryMB, limitMi);
  return {
    volume: { name: CACHE_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: `${sizeMi}Mi` } },
    mount: { name: CACHE_VOLUME, mountPath: CACHE_DIR },
  };
}

/**
 * MiB the kubelet mounts a pod spec's RAM disk at: the smaller of its
 * sizeLimit and the memcached container's memory limit; undefined without one.
 */
export function mountedRamDiskMi(podSpec: V1PodSpec | undefined): number | undefined {
  const sizeLimit = podSpec?.volumes?.find((v) => v.name === CACHE_VOLUME)?.emptyDir?.sizeLimit;
  const size = sizeLimit === undefined ? undefined : quantityValue(sizeLimit);
  if (size === undefined) return undefined;
  const limit = podSpec?.containers.find((c) => c.name === CONTAINER_NAME)?.resources?.limits?.memory;
  return Math.floor(Math.min(size, (limit === undefined ? undefined : quantityValue(limit)) ?? Infinity) / 2 ** 20);
}

function ramDiskAnnotation(podSpec: V1PodSpec): Record<string, string> {
  const mi = mountedRamDiskMi(podSpec);
  return mi === undefined ? {} : { [RAM_DISK_ANNOTATION]: String(mi) };
}

/** The pod template: the spec, plus the annotations the operator compares each running pod with (servers/changes.ts). */
export function buildPodTemplate(mc: Memcached, spec: MemcachedSpec, placement: Placement, opts: StatefulSetOptions): V1PodTemplateSpec {
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
  const cache = cacheVolume(spec, podSpec.containers[0]);
  podSpec.containers[0].volumeMounts = [cache.mount, ...security.mounts];
  podSpec.volumes = [cache.volume, ...security.volumes];
  if (spec.nodeSelector && Object.keys(spec.nodeSelector).length > 0) podSpec.nodeSelector = { ...spec.nodeSelector };
  if (spec.tolerations && spec.tolerations.length > 0) podSpec.tolerations = spec.tolerations.map((t) => ({ ...t }));
  if (spec.priorityClassName) podSpec.priorityClassName = spec.priorityClassName;
  const affinity = buildAffinity(mc, placement);
  if (affinity) podSpec.affinity = affinity;
  const spread = buildTopologySpread(mc, placement);
  if (spread) podSpec.topologySpreadConstraints = spread;
  return {
    metadata: {
      labels: standardLabels(mc),
      annotations: {
        ...(opts.podAnnotations ?? {}),
        [MEMORY_ANNOTATION]: String(spec.memoryLimitMB ?? DEFAULT_MEMORY_LIMIT_MB),
        ...ramDiskAnnotation(podSpec),
      },
    },
    spec: orderPodSpec(podSpec),
  };
}

/**
 * The StatefulSet `<cr name>` of a Memcached: stable server names
 * (`<name>-<ordinal>`, scale-down removes the last), and OnDelete, because
 * the operator, not the StatefulSet controller, decides how each running
 * server takes a new template: in place and warm where it can, one at a
 * time (servers/). spec must be defaulted and valid.
 */
export function buildStatefulSet(mc: Memcached, spec: MemcachedSpec, placement: Placement, opts: StatefulSetOptions): V1StatefulSet {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: objectMeta(mc, crName(mc)),
    spec: {
      replicas: opts.replicas,
      selector: { matchLabels: selectorLabels(mc) },
      serviceName: serversServiceName(mc),
      // New servers start together; which exist is the operator's decision.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'OnDelete' },
      template: buildPodTemplate(mc, spec, placement, opts),
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
