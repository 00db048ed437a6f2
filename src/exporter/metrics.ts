// memcached `stats` to Prometheus text, as pure functions. The metric names
// are the ones the common memcached exporter publishes, so its dashboards and
// alerts work unchanged; docs/monitoring.md has this table for users, and a
// unit test keeps the two in step.

/** One `stats` field and the metric it becomes. */
export interface StatMetric {
  stat: string;
  metric: string;
  type: 'gauge' | 'counter';
  help: string;
}

export const STAT_METRICS: readonly StatMetric[] = [
  { stat: 'uptime', metric: 'memcached_uptime_seconds', type: 'counter', help: 'Number of seconds since the server started.' },
  { stat: 'time', metric: 'memcached_time_seconds', type: 'gauge', help: 'Current UNIX time according to the server.' },
  { stat: 'curr_connections', metric: 'memcached_current_connections', type: 'gauge', help: 'Current number of open connections.' },
  { stat: 'max_connections', metric: 'memcached_max_connections', type: 'gauge', help: 'Maximum number of clients allowed.' },
  { stat: 'total_connections', metric: 'memcached_connections_total', type: 'counter', help: 'Total number of connections opened since the server started running.' },
  { stat: 'rejected_connections', metric: 'memcached_connections_rejected_total', type: 'counter', help: 'Total number of connections rejected at the connection limit.' },
  { stat: 'listen_disabled_num', metric: 'memcached_connections_listener_disabled_total', type: 'counter', help: 'Number of times that memcached has hit its connections limit and disabled its listener.' },
  { stat: 'conn_yields', metric: 'memcached_connections_yielded_total', type: 'counter', help: "Total number of connections yielded running due to hitting the memcached's -R limit." },
  { stat: 'curr_items', metric: 'memcached_current_items', type: 'gauge', help: 'Current number of items stored by this instance.' },
  { stat: 'total_items', metric: 'memcached_items_total', type: 'counter', help: 'Total number of items stored during the life of this instance.' },
  { stat: 'evictions', metric: 'memcached_items_evicted_total', type: 'counter', help: 'Total number of valid items removed from cache to free memory for new items.' },
  { stat: 'reclaimed', metric: 'memcached_items_reclaimed_total', type: 'counter', help: 'Total number of times an entry was stored using memory from an expired entry.' },
  { stat: 'bytes', metric: 'memcached_current_bytes', type: 'gauge', help: 'Current number of bytes used to store items.' },
  { stat: 'limit_maxbytes', metric: 'memcached_limit_bytes', type: 'gauge', help: 'Number of bytes this server is allowed to use for storage.' },
  { stat: 'bytes_read', metric: 'memcached_read_bytes_total', type: 'counter', help: 'Total number of bytes read by this server from network.' },
  { stat: 'bytes_written', metric: 'memcached_written_bytes_total', type: 'counter', help: 'Total number of bytes sent by this server to network.' },
  { stat: 'threads', metric: 'memcached_threads', type: 'gauge', help: 'Number of worker threads requested.' },
  { stat: 'rusage_user', metric: 'memcached_rusage_user_seconds_total', type: 'counter', help: 'Accumulated user time for this process.' },
  { stat: 'rusage_system', metric: 'memcached_rusage_system_seconds_total', type: 'counter', help: 'Accumulated system time for this process.' },
];

/** `memcached_commands_total{command,status}`: each series and the stat it reads. */
export const COMMAND_STATS: readonly { command: string; status: string; stat: string }[] = [
  { command: 'get', status: 'hit', stat: 'get_hits' },
  { command: 'get', status: 'miss', stat: 'get_misses' },
  { command: 'get', status: 'expired', stat: 'get_expired' },
  { command: 'get', status: 'flushed', stat: 'get_flushed' },
  { command: 'set', status: 'hit', stat: 'cmd_set' },
  { command: 'delete', status: 'hit', stat: 'delete_hits' },
  { command: 'delete', status: 'miss', stat: 'delete_misses' },
  { command: 'incr', status: 'hit', stat: 'incr_hits' },
  { command: 'incr', status: 'miss', stat: 'incr_misses' },
  { command: 'decr', status: 'hit', stat: 'decr_hits' },
  { command: 'decr', status: 'miss', stat: 'decr_misses' },
  { command: 'cas', status: 'hit', stat: 'cas_hits' },
  { command: 'cas', status: 'miss', stat: 'cas_misses' },
  { command: 'cas', status: 'badval', stat: 'cas_badval' },
  { command: 'touch', status: 'hit', stat: 'touch_hits' },
  { command: 'touch', status: 'miss', stat: 'touch_misses' },
  { command: 'flush', status: 'hit', stat: 'cmd_flush' },
];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function numeric(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The exposition text for one scrape. `stats` is undefined when memcached
 * could not be read: then only `memcached_up 0` is reported, so a series
 * never carries a stale or invented value. Fields this memcached does not
 * report are left out rather than written as 0.
 */
export function renderExposition(stats: Map<string, string> | undefined): string {
  const lines: string[] = ['# HELP memcached_up Could the memcached server be reached.', '# TYPE memcached_up gauge', `memcached_up ${stats ? 1 : 0}`];
  if (!stats) return `${lines.join('\n')}\n`;

  const version = stats.get('version');
  if (version !== undefined) {
    lines.push('# HELP memcached_version The version of this memcached server.', '# TYPE memcached_version gauge', `memcached_version{version="${escapeLabel(version)}"} 1`);
  }
  for (const m of STAT_METRICS) {
    const value = numeric(stats.get(m.stat));
    if (value === undefined) continue;
    lines.push(`# HELP ${m.metric} ${m.help}`, `# TYPE ${m.metric} ${m.type}`, `${m.metric} ${value}`);
  }
  const commands = COMMAND_STATS.map((c) => ({ ...c, value: numeric(stats.get(c.stat)) })).filter((c) => c.value !== undefined);
  if (commands.length > 0) {
    lines.push('# HELP memcached_commands_total Total number of all requests broken down by command (get, set, etc.) and status.', '# TYPE memcached_commands_total counter');
    for (const c of commands) lines.push(`memcached_commands_total{command="${c.command}",status="${c.status}"} ${c.value}`);
  }
  return `${lines.join('\n')}\n`;
}
