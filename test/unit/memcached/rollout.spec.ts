import { expect } from 'chai';
import type { V1StatefulSet } from '@kubernetes/client-node';
import { buildStatefulSet, requiredPodsMayRun } from '../../../src/memcached/children/statefulset.js';
import { COMPACT, HIGHLY_AVAILABLE, SINGLE_NODE, defaulted, memcached } from './fixtures.js';

const REQUIRED_ANTI_AFFINITY = {
  podAntiAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'x' } }, topologyKey: 'kubernetes.io/hostname' }],
  },
};

/** A live StatefulSet as the informer cache would hold it. */
function live(required: boolean): V1StatefulSet {
  return {
    metadata: { name: 'cache', generation: 2 },
    spec: {
      replicas: 3,
      selector: {},
      serviceName: 'cache-servers',
      updateStrategy: { type: 'OnDelete' },
      template: { spec: { containers: [], ...(required ? { affinity: REQUIRED_ANTI_AFFINITY } : {}) } },
    },
    status: { observedGeneration: 2, replicas: 3 },
  };
}

// The StatefulSet controller never replaces a pod (OnDelete): the operator
// brings each server to the template itself (servers/), in place where it
// can. So no placement asks for a surge or a one-at-a-time strategy any more.
describe('memcached/statefulset rollout', () => {
  for (const placement of [SINGLE_NODE, COMPACT, HIGHLY_AVAILABLE]) {
    it(`${placement.profile}: OnDelete, whatever the placement`, () => {
      const sts = buildStatefulSet(memcached({}), defaulted({}), placement, { defaultImage: 'memcached:1.6', replicas: placement.replicas });
      expect(sts.spec!.updateStrategy).to.deep.equal({ type: 'OnDelete' });
      expect(sts.spec).to.not.have.property('strategy');
    });
  }

  // A running pod keeps the affinity it was scheduled with until it is replaced.
  const requiredPod = { spec: { affinity: REQUIRED_ANTI_AFFINITY } };
  const preferredPod = { spec: {} };
  const mayRun: { name: string; live: V1StatefulSet | undefined; pods: { spec?: object }[]; want: boolean }[] = [
    { name: 'no StatefulSet', live: undefined, pods: [], want: false },
    { name: 'a template asking for Required anti-affinity', live: live(true), pods: [], want: true },
    { name: 'a template without it, no pod with it', live: live(false), pods: [preferredPod, preferredPod], want: false },
    { name: 'a template without it, a running pod still with it', live: live(false), pods: [preferredPod, requiredPod], want: true },
  ];
  for (const c of mayRun) {
    it(`requiredPodsMayRun: ${c.name}`, () => expect(requiredPodsMayRun(c.live, c.pods)).to.equal(c.want));
  }
});
