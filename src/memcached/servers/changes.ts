// What a running server needs to match the pod template, and the cheapest
// way to get there. Pure. The StatefulSet rolls nothing itself (OnDelete):
// the operator compares each pod with the template and changes it in place
// where Kubernetes allows, because a new pod starts with an empty cache.
import type { V1Container, V1Pod, V1PodTemplateSpec, V1ResourceRequirements } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { AUTHFILE_HASH_ANNOTATION } from '../tls/secure-serving.js';
import { quantityValue } from '../children/resources.js';
import { CACHE_VOLUME, CONTAINER_NAME, hasRequiredAntiAffinity, MEMORY_ANNOTATION, mountedRamDiskMi, POD_SPEC_HASH_ANNOTATION, RAM_DISK_ANNOTATION } from '../children/statefulset.js';

/**
 * Most disruptive first; a pod with several changes gets them one at a time.
 * - replace: the pod spec changed where only a new pod can (args, ports,
 *   volumes, a sidecar...): the server's keys are parked on its peers first.
 * - memory: -m changed: resized in place and restarted (memcached cannot
 *   restore items into a different -m), its keys parked and brought back.
 * - restart: memcached must restart to read a new authfile: in place, warm.
 * - image: a new image in place; the kubelet restarts the container, warm.
 * - resize: the container's resources only, in place, no restart.
 * - relabel: nothing runs differently (a scheduling-only change, such as
 *   anti-affinity, applies at the next scheduling): the pod is only
 *   labelled with the StatefulSet's revision.
 */
export type ServerChange = 'replace' | 'memory' | 'restart' | 'image' | 'resize' | 'relabel';

/** Scheduling-only fields: they apply when a pod is scheduled, so a running pod is not replaced for them. */
const SCHEDULING_FIELDS = ['affinity', 'tolerations', 'nodeSelector', 'topologySpreadConstraints', 'priorityClassName'] as const;

function container(spec: { containers?: V1Container[] } | undefined, name: string): V1Container | undefined {
  return spec?.containers?.find((c) => c.name === name);
}

/**
 * Hash of the template's pod spec without what changes in place (images,
 * resources), what only matters at scheduling, and the RAM disk's size
 * (checked separately: it bounds a -m raised in place). Stored on the
 * template (and so on every pod) as POD_SPEC_HASH_ANNOTATION.
 */
export function podSpecHash(template: V1PodTemplateSpec): string {
  const spec: Record<string, unknown> = { ...template.spec };
  for (const field of SCHEDULING_FIELDS) delete spec[field];
  spec.containers = (template.spec?.containers ?? []).map(({ image: _image, resources: _resources, ...rest }) => rest);
  spec.volumes = (template.spec?.volumes ?? []).map((v) => (v.name === CACHE_VOLUME ? { name: v.name } : v));
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
}

/** The template with its pod spec hash annotated. */
export function withPodSpecHash(template: V1PodTemplateSpec): V1PodTemplateSpec {
  return { ...template, metadata: { ...template.metadata, annotations: { ...template.metadata?.annotations, [POD_SPEC_HASH_ANNOTATION]: podSpecHash(template) } } };
}

function sameQuantities(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})]);
  for (const key of keys) {
    const x = a?.[key];
    const y = b?.[key];
    if (x === undefined || y === undefined || quantityValue(x) !== quantityValue(y)) return false;
  }
  return true;
}

export function sameResources(a: V1ResourceRequirements | undefined, b: V1ResourceRequirements | undefined): boolean {
  return sameQuantities(a?.requests, b?.requests) && sameQuantities(a?.limits, b?.limits);
}

/**
 * MiB of the pod's RAM disk, or undefined when it has none. The kubelet
 * mounts it at the smaller of its sizeLimit and the pod's memory limit as
 * the pod started, whatever a sizeLimit says beyond that: the pod's
 * RAM_DISK_ANNOTATION, from its template, says so; a pod of an earlier
 * version has only its spec, whose memory limit a resize may have raised.
 */
function cacheVolumeMi(pod: V1Pod): number | undefined {
  const mounted = Number(pod.metadata?.annotations?.[RAM_DISK_ANNOTATION] ?? NaN);
  return Number.isFinite(mounted) && mounted > 0 ? mounted : mountedRamDiskMi(pod.spec);
}

function imagesDiffer(pod: V1Pod, template: V1PodTemplateSpec): boolean {
  return (template.spec?.containers ?? []).some((c) => container(pod.spec, c.name)?.image !== c.image);
}

/**
 * The next change pod needs to match template (which carries
 * POD_SPEC_HASH_ANNOTATION), or undefined when it runs it already.
 * relaxingRequired: the placement relaxes Required anti-affinity to add
 * servers (more replicas than nodes, topology/transition.ts).
 */
export function changeFor(pod: V1Pod, template: V1PodTemplateSpec, revision: string | undefined, relaxingRequired = false): ServerChange | undefined {
  const has = pod.metadata?.annotations ?? {};
  const wants = template.metadata?.annotations ?? {};
  if (has[POD_SPEC_HASH_ANNOTATION] !== wants[POD_SPEC_HASH_ANNOTATION]) return 'replace';
  // Scheduling-only changes wait for the next scheduling, except one: a
  // running pod's Required anti-affinity keeps every new pod off its node,
  // so when servers are to be added beyond the nodes, it needs a new pod.
  // Fewer servers (SingleReplica, a smaller size) schedule none: it stays.
  if (relaxingRequired && hasRequiredAntiAffinity(pod.spec) && !hasRequiredAntiAffinity(template.spec)) return 'replace';
  if (has[MEMORY_ANNOTATION] !== wants[MEMORY_ANNOTATION]) {
    const room = cacheVolumeMi(pod);
    const wanted = Number(wants[MEMORY_ANNOTATION]);
    // The RAM disk of a running pod cannot grow: a -m beyond it needs a new pod.
    return room !== undefined && wanted + 16 <= room ? 'memory' : 'replace';
  }
  if ((has[AUTHFILE_HASH_ANNOTATION] ?? '') !== (wants[AUTHFILE_HASH_ANNOTATION] ?? '')) return 'restart';
  if (imagesDiffer(pod, template)) return 'image';
  if (!sameResources(container(pod.spec, CONTAINER_NAME)?.resources, container(template.spec, CONTAINER_NAME)?.resources)) return 'resize';
  if (revision !== undefined && pod.metadata?.labels?.['controller-revision-hash'] !== revision) return 'relabel';
  return undefined;
}

/**
 * Servers (by index) that share a node with a lower one while the template
 * requires one server per node: placed with Preferred anti-affinity on the
 * way to HighlyAvailable (topology/transition.ts) when nodes were short,
 * they would otherwise stay together, since anti-affinity applies only at
 * scheduling. Each is replaced (keys parked) to be scheduled apart.
 */
export function crowdedUnderRequired(pods: readonly (V1Pod | undefined)[], template: V1PodTemplateSpec): number[] {
  if (!hasRequiredAntiAffinity(template.spec)) return [];
  const nodes = new Set<string>();
  const crowded: number[] = [];
  pods.forEach((pod, i) => {
    const node = pod?.spec?.nodeName;
    if (node === undefined) return;
    if (nodes.has(node)) crowded.push(i);
    else nodes.add(node);
  });
  return crowded;
}
