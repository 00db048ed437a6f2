// The sizing rules: how one Memcached is laid out on a cluster of a given
// topology. Pure; docs/topology.md holds the same rules as a table, and a
// unit test checks every row of that table against placementFor.
//
// The rules, in order:
//  1. spec.highAvailability Enabled or Disabled overrides detection for this
//     object: Enabled sizes as HighlyAvailable/HighlyAvailable, Disabled as
//     SingleReplica/SingleReplica; source Override, profile "<name> (override)".
//  2. memcached is a worker workload, so infrastructureTopology decides:
//     SingleReplica gets the single-node rules (3), HighlyAvailable the HA
//     rules (4), refined by controlPlaneTopology (5).
//  3. SingleReplica: 1 replica, no anti-affinity, no zone spread, no PDB,
//     resources Small. The topology says "do not configure for HA", so an
//     explicit spec.size > 1 is honoured but gets no anti-affinity or PDB,
//     only a HighAvailability=False notice (SingleNodeCluster, or
//     HighAvailabilityDisabled when the override asked for it).
//  4. HighlyAvailable: 3 replicas, or the schedulable node count if smaller,
//     but at least 2. Then, for the resulting replica count (explicit or not):
//     - 2+ replicas: Required anti-affinity on kubernetes.io/hostname when there
//       are at least as many schedulable nodes as replicas; otherwise Preferred
//       with a NotEnoughNodes notice (Required would leave pods Pending);
//     - zone spread when 2+ replicas and 2+ zones among schedulable nodes;
//     - a PDB (maxUnavailable 1) when 2+ replicas, never for 1 (it would only
//       block drains);
//     - 0 or 1 replica: no anti-affinity, spread or PDB;
//     - resources Standard.
//  5. controlPlaneTopology refinements, on a HighlyAvailable infrastructure:
//     - DualReplica: 2 replicas by default (not min(3, nodes)); an explicit
//       spec.size gets the HA rules for that size;
//     - HighlyAvailableArbiter: the HA rules; the arbiter is excluded (6);
//     - External: no control-plane nodes in the cluster; the HA rules;
//     - SingleReplica or HighlyAvailable: the HA rules.
//  6. Every profile excludes node-role.kubernetes.io/arbiter nodes (harmless
//     where there are none). Control-plane nodes are not excluded, because on
//     single-node, compact and two-node clusters they are the workers; we add
//     no control-plane tolerations, so tainted control planes stay out.
//  7. An explicit spec.size (a non-negative integer) always wins for replicas.
import type { MemcachedSpec } from '../api/types.js';
import { ARBITER_ROLE } from './detect.js';
import type {
  AntiAffinity,
  ClusterTopology,
  ControlPlaneTopology,
  InfrastructureTopology,
  Placement,
  PlacementNotice,
} from './types.js';

/** Default replicas on a HighlyAvailable infrastructure (capped by the schedulable node count, at least 2). */
export const HA_DEFAULT_REPLICAS = 3;
/** Default replicas on a DualReplica (two-node) control plane. */
export const DUAL_REPLICA_DEFAULT_REPLICAS = 2;
/** The condition type the sizing's notices report. */
export const HIGH_AVAILABILITY_CONDITION = 'HighAvailability';

/** The sizing's output: the contract's Placement plus where its topology came from. */
export interface SizedPlacement extends Placement {
  /** Override when spec.highAvailability is Enabled or Disabled, else the detected topology's source. */
  source: ClusterTopology['source'] | 'Override';
  /** The topology the rules were applied for: the detected one, or the override's. */
  effectiveTopology: { controlPlane: ControlPlaneTopology; infrastructure: InfrastructureTopology };
}

/** The explicit spec.size when it is a usable replica count (a non-negative integer), else undefined. */
export function explicitSize(spec: MemcachedSpec): number | undefined {
  const size = spec.size;
  return typeof size === 'number' && Number.isInteger(size) && size >= 0 ? size : undefined;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Rule 1: the topology to size for, after spec.highAvailability. */
function effectiveTopology(spec: MemcachedSpec, topology: ClusterTopology): SizedPlacement['effectiveTopology'] {
  switch (spec.highAvailability) {
    case 'Enabled':
      return { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable' };
    case 'Disabled':
      return { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica' };
    default:
      return { controlPlane: topology.controlPlane, infrastructure: topology.infrastructure };
  }
}

/** Rule 5: the profile name for a HighlyAvailable infrastructure, by control plane. */
function haProfileName(controlPlane: ControlPlaneTopology): string {
  switch (controlPlane) {
    case 'DualReplica':
    case 'HighlyAvailableArbiter':
    case 'External':
      return controlPlane;
    default:
      return 'HighlyAvailable';
  }
}

/** Rule 4: anti-affinity, zone spread and PDB for a replica count on a cluster. */
function spreadFor(
  replicas: number,
  schedulableNodes: number,
  zones: number,
): { antiAffinity: AntiAffinity; zoneSpread: boolean; podDisruptionBudget: boolean; notices: PlacementNotice[] } {
  if (replicas < 2) return { antiAffinity: 'None', zoneSpread: false, podDisruptionBudget: false, notices: [] };
  const notices: PlacementNotice[] = [];
  let antiAffinity: AntiAffinity = 'Required';
  if (schedulableNodes < replicas) {
    antiAffinity = 'Preferred';
    const pending = replicas - schedulableNodes;
    notices.push({
      type: HIGH_AVAILABILITY_CONDITION,
      status: 'False',
      reason: 'NotEnoughNodes',
      message:
        `${plural(replicas, 'replica')} but only ${plural(schedulableNodes, 'schedulable node')}: ` +
        `pod anti-affinity is Preferred rather than Required, which would leave ` +
        `${plural(pending, 'pod')} Pending; some replicas share a node`,
    });
  }
  return { antiAffinity, zoneSpread: zones >= 2, podDisruptionBudget: true, notices };
}

/**
 * How one Memcached is laid out: replicas, anti-affinity, zone spread, PDB,
 * excluded node roles and default resources, with notices for the status.
 * schedulableNodes and zones should be counted with the object's own
 * tolerations and nodeSelector (see schedulableNodes in detect.ts).
 */
export function placementFor(
  spec: MemcachedSpec,
  topology: ClusterTopology,
  schedulableNodes: number,
  zones: number,
): SizedPlacement {
  const nodes = Number.isFinite(schedulableNodes) ? Math.max(0, Math.floor(schedulableNodes)) : 0;
  const zoneCount = Number.isFinite(zones) ? Math.max(0, Math.floor(zones)) : 0;
  const overridden = spec.highAvailability === 'Enabled' || spec.highAvailability === 'Disabled';
  const effective = effectiveTopology(spec, topology);
  const source: SizedPlacement['source'] = overridden ? 'Override' : topology.source;
  const suffix = overridden ? ' (override)' : '';
  const size = explicitSize(spec);
  const excludedNodeRoles = [ARBITER_ROLE];

  if (effective.infrastructure === 'SingleReplica') {
    // Rule 3.
    const replicas = size ?? 1;
    const notices: PlacementNotice[] = [];
    if (replicas > 1) {
      notices.push(
        overridden
          ? {
              type: HIGH_AVAILABILITY_CONDITION,
              status: 'False',
              reason: 'HighAvailabilityDisabled',
              message:
                `spec.size asks for ${plural(replicas, 'replica')} but spec.highAvailability is Disabled: ` +
                `they get no pod anti-affinity, zone spread or PodDisruptionBudget, so they give no high availability`,
            }
          : {
              type: HIGH_AVAILABILITY_CONDITION,
              status: 'False',
              reason: 'SingleNodeCluster',
              message:
                `spec.size asks for ${plural(replicas, 'replica')} on a single-node cluster ` +
                `(infrastructureTopology SingleReplica): a single node gives no high availability, ` +
                `so they get no pod anti-affinity or PodDisruptionBudget`,
            },
      );
    }
    return {
      profile: `SingleReplica${suffix}`,
      replicas,
      antiAffinity: 'None',
      zoneSpread: false,
      podDisruptionBudget: false,
      excludedNodeRoles,
      resourceProfile: 'Small',
      notices,
      source,
      effectiveTopology: effective,
    };
  }

  // Rules 4 and 5.
  const defaultReplicas =
    effective.controlPlane === 'DualReplica'
      ? DUAL_REPLICA_DEFAULT_REPLICAS
      : Math.max(2, Math.min(HA_DEFAULT_REPLICAS, nodes));
  const replicas = size ?? defaultReplicas;
  return {
    profile: `${haProfileName(effective.controlPlane)}${suffix}`,
    replicas,
    ...spreadFor(replicas, nodes, zoneCount),
    excludedNodeRoles,
    resourceProfile: 'Standard',
    source,
    effectiveTopology: effective,
  };
}
