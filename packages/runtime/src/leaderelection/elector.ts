// What the manager drives, whichever way leadership is decided (Lease or
// leader-for-life), and the leader gauge both implementations keep.
import { Gauge, type Registry } from 'prom-client';

export interface LeaderCallbacks {
  /** Called once leadership is acquired; `signal` aborts when leadership ends for any reason. */
  onStartedLeading(signal: AbortSignal): void;
  /** Called when leadership is lost involuntarily (not on stop()/release()). */
  onStoppedLeading(): void;
}

export interface LeaderElector {
  /** Campaigns, then leads; resolves when stopped or when leadership ends. */
  run(callbacks: LeaderCallbacks): Promise<void>;
  /** Gives leadership up (if held) so another candidate takes over at once. */
  release(): Promise<void>;
  isLeader(): boolean;
  /** Stops campaigning, or ends leading (the leader signal aborts). */
  stop(): void;
  /**
   * The /healthz check the manager registers as "leader-election": throws
   * when this instance believes it leads but can no longer prove it.
   */
  healthCheck(): void;
}

export const LEADER_GAUGE_NAME = 'leader_election_master_status';

/** The `leader_election_master_status{name}` gauge in `registry`, created once per registry. */
export function leaderGauge(registry: Registry): Gauge<'name'> {
  const existing = registry.getSingleMetric(LEADER_GAUGE_NAME);
  if (existing) return existing as Gauge<'name'>;
  return new Gauge({
    name: LEADER_GAUGE_NAME,
    help: 'Gauge of whether this instance is the leader (1) or not (0), by lock name.',
    labelNames: ['name'],
    registers: [registry],
  });
}
