// The auto pilot's settings: spec.autoscaling (defaulted by the CRD's
// defaults) as numbers, the replica bounds the topology allows, and the
// replicas and memory in effect, from the spec's starting point and what the
// status says the auto pilot chose. Pure.
//
// How spec.size and memoryLimitMB meet autoscaling (docs/autopilot.md):
// they are the starting point; the values in effect live in
// status.autoscaling; the operator never writes the spec. An edit of either
// (told from a decision by status.autoscaling.specSize / specMemoryLimitMB)
// is a new starting point, clamped into the bounds.
import type { AutoscalingStatus, MemcachedSpec } from '../../api/types.js';
import { applyDefaults } from '../../api/validator.js';
import type { InfrastructureTopology } from '../../topology/types.js';
import { parseDuration } from '../../options.js';

/** What the policy needs, in numbers; durations in milliseconds. */
export interface AutoscalingSettings {
  minReplicas: number;
  maxReplicas: number;
  targetMemoryPercent: number;
  evictionsPerSecond: number;
  evictingForMs: number;
  scaleOutCooldownMs: number;
  scaleInCooldownMs: number;
  /** spec.memoryLimitMB: where vertical scaling starts, and its floor. */
  memoryFloorMB: number;
  /** maxMemoryLimitMB, or the floor when unset (no vertical scaling). */
  memoryCeilingMB: number;
}

export interface AnomalySettings {
  factor: number;
  learningPeriodMs: number;
}

export type Parsed<T> = { ok: true; settings: T; notes: string[] } | { ok: false; message: string };

/** A highly available placement keeps at least this many replicas, as spec.highAvailability Enabled requires. */
export const HIGHLY_AVAILABLE_MIN_REPLICAS = 2;

class SettingError extends Error {}

function duration(text: string | undefined, field: string): number {
  try {
    return parseDuration(text ?? '');
  } catch {
    throw new SettingError(`spec.autoscaling.${field}: "${text}" is not a duration such as 30s, 5m or 1h`);
  }
}

function decimal(text: string | undefined, field: string): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new SettingError(`spec.autoscaling.${field}: "${text}" is not a decimal such as "0.5"`);
  }
  return n;
}

/**
 * The replica bounds in effect: spec's, narrowed by the placement. A single
 * node (SingleReplica, or highAvailability Disabled) runs 1; a highly
 * available placement never goes below 2.
 */
export function replicaBounds(
  minReplicas: number | undefined,
  maxReplicas: number,
  infrastructure: InfrastructureTopology,
): { min: number; max: number; notes: string[] } {
  const notes: string[] = [];
  if (infrastructure === 'SingleReplica') {
    if (maxReplicas > 1) notes.push(`a single-node placement runs 1 replica, not up to maxReplicas ${maxReplicas}; only memory can grow`);
    return { min: 1, max: 1, notes };
  }
  const floor = HIGHLY_AVAILABLE_MIN_REPLICAS;
  const min = Math.max(floor, minReplicas ?? floor);
  if (minReplicas !== undefined && minReplicas < floor) notes.push(`minReplicas ${minReplicas} is raised to ${floor}: a highly available placement keeps at least ${floor} replicas`);
  const max = Math.max(min, maxReplicas);
  if (maxReplicas < min) notes.push(`maxReplicas ${maxReplicas} is raised to ${min}, the fewest replicas in effect`);
  return { min, max, notes };
}

/**
 * Pure: spec.autoscaling as settings, for the placement's effective
 * infrastructure topology (SizedPlacement.effectiveTopology.infrastructure).
 * Never throws: a bad value (an object stored before a CRD upgrade) is a
 * message naming the field.
 */
export function autoscalingSettings(spec: MemcachedSpec, infrastructure: InfrastructureTopology): Parsed<AutoscalingSettings> {
  const full = applyDefaults(spec);
  const a = full.autoscaling ?? {};
  if (a.maxReplicas === undefined) return { ok: false, message: 'spec.autoscaling.maxReplicas is required when autoscaling is enabled' };
  const target = a.targetMemoryPercent;
  if (target === undefined || !(target > 0 && target <= 100)) {
    return { ok: false, message: `spec.autoscaling.targetMemoryPercent: ${target} is not a percentage` };
  }
  try {
    const bounds = replicaBounds(a.minReplicas, a.maxReplicas, infrastructure);
    const floor = full.memoryLimitMB ?? 64;
    const notes = [...bounds.notes];
    if (a.maxMemoryLimitMB !== undefined && a.maxMemoryLimitMB < floor) notes.push(`maxMemoryLimitMB ${a.maxMemoryLimitMB} is below memoryLimitMB ${floor}: memory stays at ${floor}`);
    const settings: AutoscalingSettings = {
      minReplicas: bounds.min,
      maxReplicas: bounds.max,
      targetMemoryPercent: target,
      evictionsPerSecond: decimal(a.evictionsPerSecond, 'evictionsPerSecond'),
      evictingForMs: duration(a.evictingFor, 'evictingFor'),
      scaleOutCooldownMs: duration(a.scaleOutCooldown, 'scaleOutCooldown'),
      scaleInCooldownMs: duration(a.scaleInCooldown, 'scaleInCooldown'),
      memoryFloorMB: floor,
      memoryCeilingMB: Math.max(floor, a.maxMemoryLimitMB ?? floor),
    };
    return { ok: true, settings, notes };
  } catch (err) {
    if (err instanceof SettingError) return { ok: false, message: err.message };
    throw err;
  }
}

/** Pure: spec.autoscaling.anomalyDetection as settings, or undefined when it is off. */
export function anomalySettings(spec: MemcachedSpec): Parsed<AnomalySettings> | undefined {
  const detection = applyDefaults(spec).autoscaling?.anomalyDetection;
  if (detection?.enabled !== true) return undefined;
  try {
    const factor = decimal(detection.factor, 'anomalyDetection.factor');
    if (factor < 1) return { ok: false, message: `spec.autoscaling.anomalyDetection.factor: ${detection.factor} is below 1` };
    return { ok: true, settings: { factor, learningPeriodMs: duration(detection.learningPeriod, 'anomalyDetection.learningPeriod') }, notes: [] };
  } catch (err) {
    if (err instanceof SettingError) return { ok: false, message: err.message };
    throw err;
  }
}

/** The replicas and memory in effect, and the spec values they took in (for status.autoscaling). */
export interface EffectiveScale {
  replicas: number;
  memoryLimitMB: number;
  /** spec.size as it was taken in (undefined: unset). */
  specSize?: number;
  specMemoryLimitMB: number;
}

const clamp = (n: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, n));

/**
 * Pure: the replicas and memory in effect. startReplicas is what the sizing
 * gives without autoscaling (spec.size, else the topology's choice). The
 * status's values hold unless the spec's differ from the ones last taken in
 * (the user edited them: a new starting point); either way they are clamped
 * into the bounds, so a narrowed bound applies at once.
 */
export function effectiveScale(
  spec: MemcachedSpec,
  startReplicas: number,
  settings: AutoscalingSettings,
  status: AutoscalingStatus | undefined,
): EffectiveScale {
  const specMemoryLimitMB = settings.memoryFloorMB;
  const sizeEdited = status?.desiredReplicas === undefined || status.specSize !== spec.size;
  const memoryEdited = status?.memoryLimitMB === undefined || status.specMemoryLimitMB !== specMemoryLimitMB;
  const replicas = sizeEdited ? startReplicas : status.desiredReplicas!;
  const memory = memoryEdited ? specMemoryLimitMB : status.memoryLimitMB!;
  return {
    replicas: clamp(replicas, settings.minReplicas, settings.maxReplicas),
    memoryLimitMB: clamp(memory, settings.memoryFloorMB, settings.memoryCeilingMB),
    ...(spec.size !== undefined ? { specSize: spec.size } : {}),
    specMemoryLimitMB,
  };
}
