// What monitoring (spec.monitoring) adds to a Memcached, as pure builders:
//
//   - a PodMonitor that has Prometheus scrape every memcached pod, by default
//     through the operator's multi-target exporter (/scrape?target=<pod>:<port>,
//     the blackbox pattern), or a sidecar's /metrics when
//     spec.monitoring.exporterImage names one;
//   - a PrometheusRule with the memcached alerts at this Memcached's
//     thresholds, narrowed to its own series;
//   - with exporterImage, the sidecar container.
//
// A PodMonitor, not a ServiceMonitor: the headless Service publishes only
// Ready pods, so a pod whose memcached died would drop out of discovery right
// when MemcachedDown should fire. Pod discovery keeps every running pod.
import type { V1Container, V1Deployment, V1StatefulSet, V1Pod } from '@kubernetes/client-node';
import type { Memcached, MemcachedSpec } from '../../api/types.js';
import { memcachedAlertGroup, thresholdsFor } from './alerts.js';
import { DEFAULT_PORT } from '../children/args.js';
import { CONTAINER_NAME, PLAINTEXT_PORT_NAME, PORT_NAME } from '../children/statefulset.js';
import { crName, objectMeta, selectorLabels } from '../children/metadata.js';
import { tlsEnabled } from '../children/secret-mounts.js';
import { headlessServiceName } from '../children/services.js';
import { managedPodAt } from '../pods.js';

export const MONITORING_GROUP = 'monitoring.coreos.com';
export const MONITORING_API_VERSION = `${MONITORING_GROUP}/v1`;
export const POD_MONITOR_KIND = 'PodMonitor';
export const PROMETHEUS_RULE_KIND = 'PrometheusRule';

export const EXPORTER_CONTAINER_NAME = 'exporter';
export const EXPORTER_PORT_NAME = 'metrics';
/** The port the common memcached exporter listens on. */
export const EXPORTER_PORT = 9150;

/** A monitoring.coreos.com object, typed only as far as these builders write it. */
export interface MonitoringObject {
  apiVersion: typeof MONITORING_API_VERSION;
  kind: typeof POD_MONITOR_KIND | typeof PROMETHEUS_RULE_KIND;
  metadata: ReturnType<typeof objectMeta>;
  spec: Record<string, unknown>;
}

export function monitoringEnabled(spec: MemcachedSpec): boolean {
  return spec.monitoring?.enabled !== false;
}

function sidecarImage(spec: MemcachedSpec): string | undefined {
  return monitoringEnabled(spec) ? spec.monitoring?.exporterImage : undefined;
}

/** The port stats are read on: with TLS the plaintext listener, if there is one (the exporter speaks plaintext). */
export function statsPort(spec: MemcachedSpec): { name: string; port: number } {
  if (tlsEnabled(spec) && spec.tls?.plaintextPort !== undefined) return { name: PLAINTEXT_PORT_NAME, port: spec.tls.plaintextPort };
  return { name: PORT_NAME, port: spec.containerPort ?? DEFAULT_PORT };
}

export function podMonitorName(mc: Memcached): string {
  return crName(mc);
}

export function prometheusRuleName(mc: Memcached): string {
  return crName(mc);
}

/**
 * The PromQL label matchers of one Memcached's series. Every target carries
 * `service="<name>-headless"` (set by the PodMonitor's relabeling), so the
 * alerts and the dashboard group by it whichever exporter serves the pod.
 */
export function seriesSelector(mc: Memcached): string {
  return `namespace="${mc.metadata.namespace ?? ''}", service="${headlessServiceName(mc)}"`;
}

/**
 * The PodMonitor of a Memcached. exporterAddress is where Prometheus reaches
 * the operator's exporter (host:port); without it and without a sidecar
 * there is nothing to scrape through, so there is no PodMonitor.
 */
export function buildPodMonitor(mc: Memcached, spec: MemcachedSpec, exporterAddress: string | undefined): MonitoringObject | undefined {
  if (!monitoringEnabled(spec)) return undefined;
  const sidecar = sidecarImage(spec) !== undefined;
  if (!sidecar && !exporterAddress) return undefined;
  const relabelings: Record<string, unknown>[] = sidecar
    ? []
    : [
        // The blackbox pattern: the pod's address becomes the target
        // parameter and the instance label; the exporter is scraped.
        { sourceLabels: ['__address__'], targetLabel: '__param_target', action: 'replace' },
        { sourceLabels: ['__address__'], targetLabel: 'instance', action: 'replace' },
        { targetLabel: '__address__', replacement: exporterAddress, action: 'replace' },
      ];
  relabelings.push({ targetLabel: 'service', replacement: headlessServiceName(mc), action: 'replace' });
  const endpoint: Record<string, unknown> = {
    port: sidecar ? EXPORTER_PORT_NAME : statsPort(spec).name,
    path: sidecar ? '/metrics' : '/scrape',
    scheme: 'http',
    ...(spec.monitoring?.interval ? { interval: spec.monitoring.interval } : {}),
    relabelings,
  };
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: POD_MONITOR_KIND,
    metadata: objectMeta(mc, podMonitorName(mc)),
    spec: {
      selector: { matchLabels: selectorLabels(mc) },
      podMetricsEndpoints: [endpoint],
    },
  };
}

/** The PrometheusRule of a Memcached: the memcached alerts at its thresholds, on its series only, linking runbooks under runbookBase. */
export function buildPrometheusRule(mc: Memcached, spec: MemcachedSpec, runbookBase?: string): MonitoringObject | undefined {
  if (!monitoringEnabled(spec)) return undefined;
  const group = memcachedAlertGroup(thresholdsFor(spec.monitoring?.alerts), seriesSelector(mc), runbookBase);
  return {
    apiVersion: MONITORING_API_VERSION,
    kind: PROMETHEUS_RULE_KIND,
    metadata: objectMeta(mc, prometheusRuleName(mc)),
    spec: { groups: [{ ...group, name: `memcached.${mc.metadata.namespace ?? ''}.${crName(mc)}` }] },
  };
}

/** The exporter sidecar: restricted-profile securityContext and fixed, small requests and limits. */
export function buildExporterSidecar(spec: MemcachedSpec, image: string): V1Container {
  return {
    name: EXPORTER_CONTAINER_NAME,
    image,
    // The common memcached exporter's flags.
    args: [`--memcached.address=localhost:${statsPort(spec).port}`, `--web.listen-address=:${EXPORTER_PORT}`],
    ports: [{ name: EXPORTER_PORT_NAME, containerPort: EXPORTER_PORT, protocol: 'TCP' }],
    resources: {
      requests: { cpu: '5m', memory: '16Mi' },
      limits: { cpu: '100m', memory: '48Mi' },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    },
  };
}

/** The Deployment with the exporter sidecar added when spec asks for one; otherwise unchanged (no rollout). */
export function withExporterSidecar<T extends V1Deployment | V1StatefulSet>(deployment: T, spec: MemcachedSpec): T {
  const image = sidecarImage(spec);
  const podSpec = deployment.spec?.template.spec;
  if (image === undefined || !podSpec) return deployment;
  return {
    ...deployment,
    spec: {
      ...deployment.spec!,
      template: {
        ...deployment.spec!.template,
        spec: { ...podSpec, containers: [...podSpec.containers, buildExporterSidecar(spec, image)] },
      },
    },
  };
}

/**
 * Whether the multi-target exporter may scrape host:port: only a memcached
 * port of a pod this operator manages, so the exporter cannot be used to
 * reach anything else on the pod network (no SSRF). Returns why not, or
 * undefined when allowed. pods is the operator's cache of managed pods.
 */
export function scrapeRefusal(pods: readonly V1Pod[], host: string, port: number): string | undefined {
  const pod = managedPodAt(pods, host);
  if (!pod) return `target ${host} is not the address of a memcached pod this operator manages`;
  const memcached = pod.spec?.containers.find((c) => c.name === CONTAINER_NAME);
  if (!(memcached?.ports ?? []).some((p) => p.containerPort === port)) {
    return `target port ${port} is not a memcached port of pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  }
  return undefined;
}

/** One Prometheus HTTP service-discovery target group. */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/**
 * Prometheus HTTP service discovery (http_sd_configs) for one Memcached: a
 * group per running pod, with the same target and labels the PodMonitor's
 * pod discovery gives. For a Prometheus built without Kubernetes discovery
 * (Debian's package): a ScrapeConfig with httpSDConfigs pointing at the
 * operator's /targets and the PodMonitor's relabelings scrapes the same way.
 */
export function discoveryTargets(mc: Memcached, spec: MemcachedSpec, pods: readonly V1Pod[]): TargetGroup[] {
  const selector = selectorLabels(mc);
  const port = statsPort(spec).port;
  return pods
    .filter(
      (p) =>
        p.metadata?.namespace === mc.metadata.namespace &&
        !p.metadata?.deletionTimestamp &&
        p.status?.podIP &&
        p.status.phase !== 'Succeeded' &&
        p.status.phase !== 'Failed' &&
        Object.entries(selector).every(([k, v]) => p.metadata?.labels?.[k] === v),
    )
    .map((p) => ({
      targets: [`${p.status!.podIP!.includes(':') ? `[${p.status!.podIP!}]` : p.status!.podIP!}:${port}`],
      labels: { namespace: mc.metadata.namespace ?? '', pod: p.metadata!.name!, container: CONTAINER_NAME },
    }))
    .sort((a, b) => a.labels.pod.localeCompare(b.labels.pod));
}
