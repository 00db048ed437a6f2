import type { Memcached, MemcachedSpec } from '../../../src/api/types.js';
import { applyDefaults } from '../../../src/api/validator.js';
import type { Placement } from '../../../src/topology/types.js';

export function memcached(spec: MemcachedSpec = {}, name = 'cache'): Memcached {
  return {
    apiVersion: 'cache.example.com/v1alpha1',
    kind: 'Memcached',
    metadata: { name, namespace: 'apps', uid: '0b1c2d3e-0000-4000-8000-000000000001', generation: 3 },
    spec,
  };
}

export function defaulted(spec: MemcachedSpec = {}): MemcachedSpec {
  return applyDefaults(spec);
}

export const SINGLE_NODE: Placement = {
  profile: 'SingleNode',
  replicas: 1,
  antiAffinity: 'None',
  zoneSpread: false,
  podDisruptionBudget: false,
  excludedNodeRoles: [],
  resourceProfile: 'Small',
  notices: [{ type: 'HighAvailabilityUnavailable', status: 'True', reason: 'SingleNode', message: 'one schedulable node' }],
};

export const COMPACT: Placement = {
  profile: 'Compact',
  replicas: 3,
  antiAffinity: 'Preferred',
  zoneSpread: false,
  podDisruptionBudget: true,
  excludedNodeRoles: [],
  resourceProfile: 'Standard',
  notices: [],
};

export const HIGHLY_AVAILABLE: Placement = {
  profile: 'HighlyAvailable',
  replicas: 3,
  antiAffinity: 'Required',
  zoneSpread: true,
  podDisruptionBudget: true,
  excludedNodeRoles: ['master', 'arbiter'],
  resourceProfile: 'Standard',
  notices: [],
};
