// The shape of a run's results file (bench/results/*.json): stable keys that
// report.ts renders and the smoke test checks.
import type { machine } from './env.js';
import type { ChurnResult, IdleResult, OperatorStats } from './measure.js';
import type { Spread } from '../test/support/stats.js';

export type FaultKind = 'sigkill' | 'sigterm' | 'partition';

export type FailoverResult = Spread & { runs: number; samplesMs: number[]; source: string; error?: string };

/** A peer's results: another operator measured side by side, on the same cluster, in the same run. */
export interface PeerResult {
  name: string;
  command: string;
  mode: 'memcached' | 'deployment';
  convergence: Array<{
    n: number;
    seconds: number;
    writesPerObject: number;
    complete: boolean;
    p50Ms: number | null;
    p90Ms: number | null;
    p99Ms: number | null;
    /** Ratios of its time to the floor's and to the saturating floor's at the same N. */
    floorRatio: number | null;
    saturatedFloorRatio: number | null;
    writesByResource: Record<string, number>;
  }>;
  footprint: Array<{ n: number; rssMB: number; cpuSeconds: number }>;
  idle: IdleResult | null;
  churn: ChurnResult | null;
  /** From its /metrics when it serves controller-runtime's (the Go peer does). */
  stats: Array<{ n: number } & OperatorStats>;
  timesMs: Array<{ n: number; ms: number[] }>;
}

export interface Results {
  schema: 1;
  /** Namespaces of this run are bench-<runId>-<who>-<n> (who: op, floor, peer, other). */
  runId: string;
  date: string;
  commit: string;
  machine: ReturnType<typeof machine>;
  smoke: boolean;
  profile: 'ha';
  operator: { command: string; maxConcurrentReconciles: number };
  convergence: Array<{
    n: number;
    seconds: number;
    floorSeconds: number;
    ratio: number | null;
    /** The fastest floor of the sweep at this N (floorSweep), and its concurrency. */
    saturatedFloorSeconds: number;
    saturatedFloorConcurrency: number;
    saturatedRatio: number | null;
    p50Ms: number | null;
    p90Ms: number | null;
    p99Ms: number | null;
    maxMs: number | null;
    throughput: number | null;
    floorThroughput: number | null;
    floorP50Ms: number | null;
    floorP90Ms: number | null;
    floorP99Ms: number | null;
    complete: boolean;
  }>;
  /** The floor's same writes at each swept concurrency and N. */
  floorSweep: Array<{ concurrency: number; n: number; seconds: number; writesPerObject: number; complete: boolean }>;
  apiCost: Array<{
    n: number;
    writesPerObject: number;
    floorWritesPerObject: number;
    ratio: number | null;
    allClientRequestsPerObject: number;
    floorAllClientRequestsPerObject: number;
    writesByResource: Record<string, number>;
    floorWritesByResource: Record<string, number>;
  }>;
  idle: IdleResult;
  footprint: Array<{ n: number; rssMB: number; cpuSeconds: number }>;
  /** The operator's own metrics after converging each N: queue wait vs reconcile time. */
  operatorStats: Array<{ n: number; reconcilesPerObject: number; queueAddsPerObject: number } & OperatorStats>;
  churn: ChurnResult | null;
  failover: Record<FaultKind, FailoverResult>;
  timeToAvailable: Array<{ n: number; operatorMs: number[]; floorMs: number[] }>;
  peers: PeerResult[];
  /** --operator-cmd runs, as before peers existed (also in peers, under --operator-name). */
  others: Array<{
    command: string;
    convergence: Array<{ n: number; seconds: number; floorSeconds: number; ratio: number | null; p50Ms: number | null; p90Ms: number | null; p99Ms: number | null; complete: boolean; writesPerObject: number }>;
    idle: IdleResult | null;
    footprint: Array<{ n: number; rssMB: number; cpuSeconds: number }>;
  }>;
  /** Seconds spent building (or finding) the Go peer in this run. */
  goPeerBuildSeconds: number | null;
  notes: string[];
  durationSeconds: number;
}
