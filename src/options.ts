// Command-line flags and environment, parsed into one validated options
// object. Pure: main.ts passes process.argv and process.env in, so every
// bad input has a unit test and a clear message.
import { parseArgs } from 'node:util';
import type { Timings } from '@memcached-operator/runtime';
import { DEFAULT_MEMCACHED_IMAGE } from './api/validator.js';
import { DEFAULT_RUNBOOK_BASE_URL } from './memcached/monitoring/alerts.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LeaderElectionMode = 'lease' | 'leader-for-life';

export interface Options {
  kubeconfig?: string;
  metricsBindAddress: string;
  /** HTTPS with TokenReview/SubjectAccessReview on /metrics (default); false serves plain HTTP to anyone. */
  metricsSecure: boolean;
  /** Directory with tls.crt and tls.key for the metrics server; unset means self-signed at startup. */
  metricsCertPath?: string;
  healthProbeBindAddress: string;
  maxConcurrentReconciles: number;
  logLevel: LogLevel;
  resyncPeriodMs: number;
  gracefulShutdownTimeoutMs: number;
  leaderElect: boolean;
  leaderElectionId: string;
  leaderElectionNamespace?: string;
  leaderElectionMode: LeaderElectionMode;
  /** Explicit timings; unset ones follow the cluster topology (see leaderelection/config). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  leaderElectionSkipOutOfCluster: boolean;
  /** Namespaces to watch; empty means all namespaces. */
  watchNamespaces: string[];
  /** Image used when a Memcached sets no spec.image. */
  defaultImage: string;
  podName?: string;
  podNamespace?: string;
  /** Where the multi-target memcached exporter (/scrape) binds; "0" disables it. */
  exporterBindAddress: string;
  /** host:port at which Prometheus reaches that exporter; default: the exporter Service in POD_NAMESPACE. */
  exporterAddress?: string;
  /** How often the leader reads every memcached's stats for Saturated/Evicting; 0 is off. Unset: 60 s in a cluster, off outside. */
  usagePollIntervalMs?: number;
  /** How often to look for optional APIs (monitoring.coreos.com) appearing or going away. */
  optionalApiProbeIntervalMs: number;
  /** Base URL of the runbooks every alert's runbook_url links to (<base>/<Alert>.md). */
  runbookBaseUrl: string;
  help: boolean;
  version: boolean;
}

/** The memcached image when neither spec.image nor RELATED_IMAGE_MEMCACHED says otherwise. */
export { DEFAULT_MEMCACHED_IMAGE };

export class OptionsError extends Error {
  override name = 'OptionsError';
}

type Kind = 'string' | 'bool' | 'int' | 'duration' | 'enum';

interface FlagSpec {
  key: keyof Options;
  kind: Kind;
  help: string;
  values?: readonly string[];
  min?: number;
}

const FLAGS: Record<string, FlagSpec> = {
  kubeconfig: { key: 'kubeconfig', kind: 'string', help: 'Path to a kubeconfig. Default: in-cluster config, else $KUBECONFIG, else ~/.kube/config.' },
  'metrics-bind-address': { key: 'metricsBindAddress', kind: 'string', help: 'Address the /metrics endpoint binds to ("0" disables). Default ":8443".' },
  'metrics-secure': { key: 'metricsSecure', kind: 'bool', help: 'Serve /metrics over HTTPS to callers allowed to get /metrics (TokenReview + SubjectAccessReview). --metrics-secure=false serves plain HTTP to anyone. Default true.' },
  'metrics-cert-path': { key: 'metricsCertPath', kind: 'string', help: 'Directory with tls.crt and tls.key for /metrics (a mounted Secret). Default: a self-signed certificate made at startup.' },
  'health-probe-bind-address': { key: 'healthProbeBindAddress', kind: 'string', help: 'Address /healthz and /readyz bind to ("0" disables). Default ":8081".' },
  'max-concurrent-reconciles': { key: 'maxConcurrentReconciles', kind: 'int', min: 1, help: 'Reconciles run in parallel (never two for one object). Default 4.' },
  'log-level': { key: 'logLevel', kind: 'enum', values: ['error', 'warn', 'info', 'debug'], help: 'error, warn, info or debug. Default info.' },
  'sync-period': { key: 'resyncPeriodMs', kind: 'duration', min: 1000, help: 'How often every cached object is reconciled again. Default 10m.' },
  'graceful-shutdown-timeout': { key: 'gracefulShutdownTimeoutMs', kind: 'duration', min: 0, help: 'How long in-flight reconciles may finish on SIGTERM. Default 30s.' },
  'leader-elect': { key: 'leaderElect', kind: 'bool', help: 'Elect a leader so only one replica reconciles. Default false.' },
  'leader-election-id': { key: 'leaderElectionId', kind: 'string', help: 'Name of the Lease (or ConfigMap) lock. Default memcached-operator-lock.' },
  'leader-election-namespace': { key: 'leaderElectionNamespace', kind: 'string', help: 'Namespace of the lock. Default: the in-cluster namespace; required out of cluster.' },
  'leader-election-mode': { key: 'leaderElectionMode', kind: 'enum', values: ['lease', 'leader-for-life'], help: 'lease (default) or leader-for-life.' },
  'leader-election-lease-duration': { key: 'leaseDurationMs', kind: 'duration', min: 1, help: 'How long non-leaders wait before taking over. Default 15s (270s on single-node clusters).' },
  'leader-election-renew-deadline': { key: 'renewDeadlineMs', kind: 'duration', min: 1, help: 'How long the leader retries renewing before it steps down. Default 10s (240s on single-node).' },
  'leader-election-retry-period': { key: 'retryPeriodMs', kind: 'duration', min: 1, help: 'How often candidates retry. Default 2s (60s on single-node).' },
  'leader-election-skip-out-of-cluster': { key: 'leaderElectionSkipOutOfCluster', kind: 'bool', help: 'leader-for-life only: run without election when not in a cluster (development).' },
  'exporter-bind-address': { key: 'exporterBindAddress', kind: 'string', help: 'Address the memcached exporter (/scrape?target=) binds to ("0" disables). Default ":9150".' },
  'exporter-address': { key: 'exporterAddress', kind: 'string', help: 'host:port at which Prometheus reaches the exporter. Default memcached-operator-exporter.$POD_NAMESPACE.svc:9150.' },
  'usage-poll-interval': { key: 'usagePollIntervalMs', kind: 'duration', min: 0, help: 'How often the leader reads each memcached\'s stats for the Saturated and Evicting conditions ("0" disables). Default 60s in a cluster, off outside.' },
  'optional-api-probe-interval': { key: 'optionalApiProbeIntervalMs', kind: 'duration', min: 1000, help: 'How often to look for the monitoring.coreos.com API appearing or going away. Default 30s.' },
  'runbook-base-url': {
    key: 'runbookBaseUrl',
    kind: 'string',
    help: `Where the alerts' runbook_url points: <base>/<Alert>.md, so wherever your copy of docs/runbooks is served (a fork, a wiki). Default ${DEFAULT_RUNBOOK_BASE_URL}.`,
  },
  help: { key: 'help', kind: 'bool', help: 'Show this help.' },
  version: { key: 'version', kind: 'bool', help: 'Print the version.' },
};

const PARSE_ARGS_OPTIONS = Object.fromEntries(
  Object.entries(FLAGS).map(([name, spec]) => [name, { type: spec.kind === 'bool' ? ('boolean' as const) : ('string' as const) }]),
);

export function usage(): string {
  const lines = ['Usage: memcached-operator [flags]', '', 'Flags:'];
  for (const [name, spec] of Object.entries(FLAGS)) {
    lines.push(`  --${name}${spec.kind === 'bool' ? '' : ' <' + spec.kind + '>'}`.padEnd(48) + spec.help);
  }
  lines.push(
    '',
    'Environment:',
    '  WATCH_NAMESPACE            Comma-separated namespaces to watch; empty means all.',
    '  RELATED_IMAGE_MEMCACHED    Default memcached image (OLM sets it). Default ' + DEFAULT_MEMCACHED_IMAGE + '.',
    '  POD_NAME, POD_NAMESPACE    This pod (downward API); leader-for-life needs both.',
  );
  return lines.join('\n');
}

/** The Service in front of the operator's exporter port (config/default/exporter_service.yaml, after kustomize's name prefix). */
/**
 * The flag that sets a leader-election timing, so the runtime's validation
 * names what the user typed (jitterFactor has no flag and keeps its name).
 */
export function timingFlag(field: keyof Timings): string {
  const flag = Object.entries(FLAGS).find(([, spec]) => spec.key === field)?.[0];
  return flag ? `--${flag}` : field;
}

export const EXPORTER_SERVICE = 'memcached-operator-exporter';

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go-style duration ("15s", "1m30s", "500ms") into milliseconds. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  let match: RegExpExecArray | null;
  while ((match = re.exec(trimmed)) !== null) {
    total += Number(match[1]) * DURATION_UNITS[match[2]];
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== trimmed.length) {
    throw new OptionsError(`"${text}" is not a duration; use forms like 500ms, 15s, 1m30s or 2h`);
  }
  return Math.round(total);
}

function parseValue(name: string, spec: FlagSpec, raw: string): unknown {
  switch (spec.kind) {
    case 'string':
      if (raw === '') throw new OptionsError(`--${name} needs a value`);
      return raw;
    case 'bool':
      if (raw === 'true') return true;
      if (raw === 'false') return false;
      throw new OptionsError(`--${name} takes true or false, not "${raw}"`);
    case 'int': {
      if (!/^-?\d+$/.test(raw)) throw new OptionsError(`--${name} takes a whole number, not "${raw}"`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw new OptionsError(`--${name} must be at least ${spec.min}, not ${n}`);
      return n;
    }
    case 'duration': {
      let ms: number;
      try {
        ms = parseDuration(raw);
      } catch (err) {
        throw new OptionsError(`--${name}: ${(err as Error).message}`);
      }
      if (spec.min !== undefined && ms < spec.min) throw new OptionsError(`--${name} must be at least ${spec.min} ms, not "${raw}"`);
      return ms;
    }
    case 'enum':
      if (!spec.values!.includes(raw)) throw new OptionsError(`--${name} must be one of ${spec.values!.join(', ')}, not "${raw}"`);
      return raw;
  }
}

const BIND_ADDRESS = /^(?:(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})|0)$/;

function checkBindAddress(flag: string, value: string): void {
  const m = BIND_ADDRESS.exec(value);
  if (!m || (m[1] !== undefined && Number(m[1]) > 65535)) {
    throw new OptionsError(`--${flag} "${value}" is not an address; use host:port, :port, or 0 to disable`);
  }
}

/** An http(s) URL with a host; Alertmanager and Grafana show runbook_url as a link. */
function checkRunbookBaseUrl(value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.host || url.search || url.hash) {
    throw new OptionsError(`--runbook-base-url "${value}" is not an http(s) URL without query or fragment, such as https://wiki.example.com/memcached/runbooks`);
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Parses argv (without node and script) and the environment. Throws OptionsError on any bad input. */
export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Options {
  const opts: Options = {
    metricsBindAddress: ':8443',
    metricsSecure: true,
    healthProbeBindAddress: ':8081',
    maxConcurrentReconciles: 4,
    logLevel: 'info',
    resyncPeriodMs: 10 * 60_000,
    gracefulShutdownTimeoutMs: 30_000,
    leaderElect: false,
    leaderElectionId: 'memcached-operator-lock',
    leaderElectionMode: 'lease',
    leaderElectionSkipOutOfCluster: false,
    watchNamespaces: [],
    defaultImage: DEFAULT_MEMCACHED_IMAGE,
    exporterBindAddress: ':9150',
    optionalApiProbeIntervalMs: 30_000,
    runbookBaseUrl: DEFAULT_RUNBOOK_BASE_URL,
    help: false,
    version: false,
  };
  // node:util parseArgs splits the command line (--flag value, --flag=value,
  // bare booleans); non-strict, so that every mistake gets our own message.
  const { tokens } = parseArgs({ args: [...argv], options: PARSE_ARGS_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind === 'positional') throw new OptionsError(`unexpected argument "${token.value}"; flags start with --`);
    if (token.kind === 'option-terminator') throw new OptionsError('unexpected argument "--"; flags start with --');
    const name = token.name;
    const spec = FLAGS[name];
    if (!spec) throw new OptionsError(`unknown flag --${name}; run with --help to list the flags`);
    if (seen.has(name)) throw new OptionsError(`--${name} is given more than once`);
    seen.add(name);
    let raw = token.value;
    if (raw === undefined) {
      if (spec.kind !== 'bool') throw new OptionsError(`--${name} needs a value`);
      raw = 'true';
    } else if (!token.inlineValue && raw.startsWith('--')) {
      throw new OptionsError(`--${name} needs a value`);
    }
    (opts as unknown as Record<string, unknown>)[spec.key] = parseValue(name, spec, raw);
  }

  checkBindAddress('metrics-bind-address', opts.metricsBindAddress);
  checkBindAddress('health-probe-bind-address', opts.healthProbeBindAddress);
  checkBindAddress('exporter-bind-address', opts.exporterBindAddress);
  if (opts.exporterAddress !== undefined && !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(opts.exporterAddress)) {
    throw new OptionsError(`--exporter-address "${opts.exporterAddress}" is not host:port`);
  }
  checkRunbookBaseUrl(opts.runbookBaseUrl);
  if (!DNS_SUBDOMAIN.test(opts.leaderElectionId) || opts.leaderElectionId.length > 253) {
    throw new OptionsError(`--leader-election-id "${opts.leaderElectionId}" is not a valid object name (lowercase letters, digits, '-' and '.')`);
  }
  if (opts.leaderElectionNamespace !== undefined && !DNS_LABEL.test(opts.leaderElectionNamespace)) {
    throw new OptionsError(`--leader-election-namespace "${opts.leaderElectionNamespace}" is not a valid namespace name`);
  }

  const watch = env.WATCH_NAMESPACE?.trim() ?? '';
  if (watch !== '') {
    const namespaces = watch.split(',').map((ns) => ns.trim());
    for (const ns of namespaces) {
      if (!DNS_LABEL.test(ns) || ns.length > 63) {
        throw new OptionsError(`WATCH_NAMESPACE "${watch}" has an invalid namespace "${ns}"; use a comma-separated list of namespace names, or leave it empty for all namespaces`);
      }
    }
    opts.watchNamespaces = [...new Set(namespaces)];
  }

  const image = env.RELATED_IMAGE_MEMCACHED;
  if (image !== undefined && image !== '') {
    if (/\s/.test(image) || !/^[A-Za-z0-9]/.test(image)) {
      throw new OptionsError(`RELATED_IMAGE_MEMCACHED "${image}" is not an image reference`);
    }
    opts.defaultImage = image;
  }
  if (env.POD_NAME) opts.podName = env.POD_NAME;
  if (env.POD_NAMESPACE) {
    if (!DNS_LABEL.test(env.POD_NAMESPACE)) throw new OptionsError(`POD_NAMESPACE "${env.POD_NAMESPACE}" is not a valid namespace name`);
    opts.podNamespace = env.POD_NAMESPACE;
  }
  if (opts.exporterAddress === undefined && opts.podNamespace && opts.exporterBindAddress !== '0') {
    opts.exporterAddress = `${EXPORTER_SERVICE}.${opts.podNamespace}.svc:${opts.exporterBindAddress.split(':').pop()}`;
  }
  return opts;
}
