// The alert rules for memcached and for this operator, as data built from
// thresholds (spec.monitoring.alerts overrides them) and the runbooks' base URL. Pure. config/prometheus/rules/memcached-alerts.yaml
// is this output at the default thresholds (make alerts writes it; a unit
// test keeps it in step), and promtool's unit tests run against that file, so
// they test these expressions.
import type { MemcachedAlertOverrides } from '../../api/types.js';

export interface AlertThresholds {
  /** Share of max_connections in use that warns (0..1). */
  connectionsWarning: number;
  /** Share of max_connections in use that is critical (0..1). */
  connectionsCritical: number;
  /** Evictions per second, sustained for 15 minutes, that warn. */
  evictionsPerSecond: number;
  /** Hit ratio (0..1) below which a busy cache warns. */
  hitRatio: number;
  /** Gets per second that make a cache busy enough for the hit-ratio alert. */
  hitRatioMinGetsPerSecond: number;
  /** Work queue depth, held for 10 minutes, that warns. */
  queueDepth: number;
  /** How long memcached must be unreachable before MemcachedDown fires. */
  downFor: string;
  /** How long evictions must stay high before MemcachedEvicting fires. */
  evictingFor: string;
  /** How long the hit ratio must stay low before MemcachedLowHitRatio fires. */
  lowHitRatioFor: string;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = {
  connectionsWarning: 0.8,
  connectionsCritical: 0.95,
  evictionsPerSecond: 1,
  hitRatio: 0.8,
  hitRatioMinGetsPerSecond: 10,
  queueDepth: 100,
  downFor: '1m',
  evictingFor: '15m',
  lowHitRatioFor: '15m',
};

/**
 * The thresholds of one Memcached: the defaults with its spec.monitoring.alerts
 * overrides (already validated by the CRD's patterns and bounds) on top.
 */
export function thresholdsFor(overrides: MemcachedAlertOverrides | undefined): AlertThresholds {
  const o = overrides ?? {};
  const t: AlertThresholds = { ...DEFAULT_THRESHOLDS };
  if (o.connectionsWarningPercent !== undefined) t.connectionsWarning = o.connectionsWarningPercent / 100;
  if (o.connectionsCriticalPercent !== undefined) t.connectionsCritical = o.connectionsCriticalPercent / 100;
  if (o.evictionsPerSecond !== undefined) t.evictionsPerSecond = Number(o.evictionsPerSecond);
  if (o.hitRatioPercent !== undefined) t.hitRatio = o.hitRatioPercent / 100;
  if (o.hitRatioMinGetsPerSecond !== undefined) t.hitRatioMinGetsPerSecond = Number(o.hitRatioMinGetsPerSecond);
  if (o.downFor !== undefined) t.downFor = o.downFor;
  if (o.evictingFor !== undefined) t.evictingFor = o.evictingFor;
  if (o.lowHitRatioFor !== undefined) t.lowHitRatioFor = o.lowHitRatioFor;
  return t;
}

/** Human words for a Prometheus duration in descriptions ("1m" -> "1m"; the defaults keep their old wording). */
const WORDS: Record<string, string> = { '1m': '1 minute', '15m': '15 minutes' };
const words = (duration: string): string => WORDS[duration] ?? duration;

/**
 * Where runbook_url points unless --runbook-base-url says otherwise: the
 * runbooks in docs/runbooks of this project's repository. Set the flag to
 * where your copy is served (a fork, an internal wiki).
 */
export const DEFAULT_RUNBOOK_BASE_URL = 'https://github.com/example/memcached-operator/blob/main/docs/runbooks';

/** An alert's runbook: `<base>/<alert>.md`, each named after its alert in docs/runbooks/. */
export function runbookUrl(base: string, alert: string): string {
  return `${base.replace(/\/+$/, '')}/${alert}.md`;
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels: { severity: 'critical' | 'warning' };
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

const percent = (share: number): string => `${Math.round(share * 100)}%`;

type RuleBuilder = (alert: string, severity: 'critical' | 'warning', expr: string, forDuration: string | undefined, summary: string, description: string) => AlertRule;

/** The rule builder of one rule group, its runbooks under runbookBase. */
const ruleWithRunbooksAt = (runbookBase: string): RuleBuilder => (alert, severity, expr, forDuration, summary, description) => {
  const r: AlertRule = { alert, expr, labels: { severity }, annotations: { summary, description, runbook_url: runbookUrl(runbookBase, alert) } };
  if (forDuration) r.for = forDuration;
  // Keep the key order Prometheus's own files use: alert, expr, for, labels, annotations.
  return { alert: r.alert, expr: r.expr, ...(r.for ? { for: r.for } : {}), labels: r.labels, annotations: r.annotations };
};

/**
 * The memcached alerts. `selector` narrows every series to one Memcached
 * (for example `namespace="shop",service="cache-metrics"`); empty means all.
 */
export function memcachedAlertGroup(t: AlertThresholds = DEFAULT_THRESHOLDS, selector = '', runbookBase = DEFAULT_RUNBOOK_BASE_URL): RuleGroup {
  const rule = ruleWithRunbooksAt(runbookBase);
  const s = (extra = '') => `{${[selector, extra].filter(Boolean).join(', ')}}`;
  const sel = (metric: string, extra = '') => (selector || extra ? `${metric}${s(extra)}` : metric);
  const gets = (status = '') => `sum by (namespace, service) (rate(${sel('memcached_commands_total', `command="get"${status ? `, status="${status}"` : ''}`)}[5m]))`;
  return {
    name: 'memcached',
    rules: [
      rule('MemcachedDown', 'critical', `${sel('memcached_up')} == 0`, t.downFor,
        'memcached in pod {{ $labels.namespace }}/{{ $labels.pod }} is down.',
        `The exporter of pod {{ $labels.pod }} cannot reach memcached for more than ${words(t.downFor)}.`),
      rule('MemcachedConnectionsNearLimit', 'warning', `${sel('memcached_current_connections')} / ${sel('memcached_max_connections')} > ${t.connectionsWarning.toFixed(2)}`, '5m',
        'memcached pod {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of its connections.',
        `More than ${percent(t.connectionsWarning)} of the connection limit (-c) has been in use for 5 minutes; new clients will soon be refused.`),
      rule('MemcachedConnectionsAtLimit', 'critical', `${sel('memcached_current_connections')} / ${sel('memcached_max_connections')} > ${t.connectionsCritical.toFixed(2)}`, '2m',
        'memcached pod {{ $labels.namespace }}/{{ $labels.pod }} is at its connection limit ({{ $value | humanizePercentage }}).',
        `More than ${percent(t.connectionsCritical)} of the connection limit (-c) has been in use for 2 minutes; memcached stops accepting new clients at 100%.`),
      rule('MemcachedEvicting', 'warning', `rate(${sel('memcached_items_evicted_total')}[5m]) > ${t.evictionsPerSecond}`, t.evictingFor,
        'memcached pod {{ $labels.namespace }}/{{ $labels.pod }} evicts {{ $value | humanize }} items/s.',
        `Items have been evicted at more than ${t.evictionsPerSecond} per second for ${words(t.evictingFor)}; the working set is larger than the memory limit.`),
      rule('MemcachedLowHitRatio', 'warning', `(\n  ${gets('hit')}\n  /\n  ${gets()}\n) < ${t.hitRatio.toFixed(2)}\nand\n${gets()} > ${t.hitRatioMinGetsPerSecond}\n`, t.lowHitRatioFor,
        'memcached {{ $labels.namespace }}/{{ $labels.service }} answers only {{ $value | humanizePercentage }} of gets from cache.',
        `The hit ratio has been below ${percent(t.hitRatio)} for ${words(t.lowHitRatioFor)} while serving more than ${t.hitRatioMinGetsPerSecond} gets/s.`),
      rule('MemcachedConnectionsRejected', 'warning', `increase(${sel('memcached_connections_rejected_total')}[5m]) > 0\nor\nincrease(${sel('memcached_connections_listener_disabled_total')}[5m]) > 0\n`, undefined,
        'memcached pod {{ $labels.namespace }}/{{ $labels.pod }} refused connections in the last 5 minutes.',
        'memcached rejected connections at its limit or stopped listening for new ones (listen_disabled_num).'),
    ],
  };
}

/** The operator's own alerts, for the namespace it runs in. */
export function operatorAlertGroup(t: AlertThresholds = DEFAULT_THRESHOLDS, runbookBase = DEFAULT_RUNBOOK_BASE_URL): RuleGroup {
  const rule = ruleWithRunbooksAt(runbookBase);
  return {
    name: 'memcached-operator',
    rules: [
      rule('MemcachedOperatorReconcileErrors', 'warning', 'sum by (namespace, controller) (rate(controller_runtime_reconcile_errors_total{controller="memcached"}[5m])) > 0', '15m',
        'The memcached operator in {{ $labels.namespace }} has failed reconciles for 15 minutes.',
        'Reconcile errors keep happening; Memcached changes may not reach the cluster.'),
      rule('MemcachedOperatorNoLeader', 'warning', 'max by (namespace) (leader_election_master_status{name=~"memcached-operator.*"}) < 1', '5m',
        'No memcached operator replica in {{ $labels.namespace }} has led for 5 minutes.',
        'Every running replica reports leader_election_master_status 0.'),
      rule('MemcachedOperatorWorkQueueBacklog', 'warning', `max by (namespace) (workqueue_depth{name="memcached"}) > ${t.queueDepth}`, '10m',
        'The memcached operator in {{ $labels.namespace }} has {{ $value }} Memcacheds waiting in its queue.',
        `The work queue has held more than ${t.queueDepth} keys for 10 minutes; changes reach the cluster late.`),
    ],
  };
}
