import { expect } from 'chai';
import type { V1Deployment, V1DeploymentStrategy } from '@kubernetes/client-node';
import { ONE_AT_A_TIME, SURGE_FIRST, buildDeployment, requiredPodsMayRun, rolloutFinished, rolloutStrategy } from '../../../src/memcached/children/statefulset.js';
import { COMPACT, HIGHLY_AVAILABLE, SINGLE_NODE, defaulted, memcached } from './fixtures.js';

const REQUIRED_ANTI_AFFINITY = {
  podAntiAffinity: {
    requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { app: 'x' } }, topologyKey: 'kubernetes.io/hostname' }],
  },
};

interface LiveShape {
  required?: boolean;
  strategy?: V1DeploymentStrategy;
  generation?: number;
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  noStatus?: boolean;
}

/** A live Deployment as the informer cache would hold it. */
function live(shape: LiveShape): V1Deployment {
  return {
    metadata: { name: 'cache', generation: shape.generation ?? 2 },
    spec: {
      replicas: 1,
      selector: {},
      strategy: shape.strategy,
      template: { spec: { containers: [], ...(shape.required ? { affinity: REQUIRED_ANTI_AFFINITY } : {}) } },
    },
    ...(shape.noStatus
      ? {}
      : {
          status: {
            observedGeneration: shape.observedGeneration ?? 2,
            replicas: shape.replicas ?? 1,
            updatedReplicas: shape.updatedReplicas ?? 1,
          },
        }),
  };
}

describe('memcached/deployment rollout strategy', () => {
  // SINGLE_NODE and COMPACT are not Required; HIGHLY_AVAILABLE is. Nodes: schedulable nodes.
  const cases: { name: string; placement: typeof SINGLE_NODE; live: V1Deployment | undefined; nodes: number; want: V1DeploymentStrategy }[] = [
    { name: 'first creation without Required: surge', placement: SINGLE_NODE, live: undefined, nodes: 1, want: SURGE_FIRST },
    { name: 'first creation with Required: one at a time', placement: HIGHLY_AVAILABLE, live: undefined, nodes: 3, want: ONE_AT_A_TIME },
    { name: 'Required stays one at a time', placement: HIGHLY_AVAILABLE, live: live({ required: true, strategy: ONE_AT_A_TIME }), nodes: 6, want: ONE_AT_A_TIME },
    {
      name: 'leaving Required on as many nodes as replicas: one at a time, or the new pod waits beside the old one forever',
      placement: SINGLE_NODE,
      live: live({ required: true, strategy: ONE_AT_A_TIME, replicas: 3, updatedReplicas: 3 }),
      nodes: 1,
      want: ONE_AT_A_TIME,
    },
    {
      name: 'leaving Required with a node to spare: surge, so one replica never goes down',
      placement: SINGLE_NODE,
      live: live({ required: true, strategy: ONE_AT_A_TIME, replicas: 3, updatedReplicas: 3 }),
      nodes: 3,
      want: SURGE_FIRST,
    },
    { name: 'leaving Required for Preferred on 3 nodes: one at a time', placement: COMPACT, live: live({ required: true, strategy: ONE_AT_A_TIME }), nodes: 3, want: ONE_AT_A_TIME },
    {
      name: 'a staged placement asks for one at a time, even with nodes to spare',
      placement: { ...COMPACT, oneAtATime: true },
      live: live({ required: true, strategy: ONE_AT_A_TIME }),
      nodes: 6,
      want: ONE_AT_A_TIME,
    },
    { name: 'node count unknown (0): one at a time', placement: SINGLE_NODE, live: live({ required: true, strategy: ONE_AT_A_TIME }), nodes: 0, want: ONE_AT_A_TIME },
    {
      name: 'rollout away from Required not yet observed: one at a time',
      placement: SINGLE_NODE,
      live: live({ strategy: ONE_AT_A_TIME, generation: 3, observedGeneration: 2 }),
      nodes: 1,
      want: ONE_AT_A_TIME,
    },
    {
      name: 'rollout away from Required with old pods left: one at a time',
      placement: SINGLE_NODE,
      live: live({ strategy: ONE_AT_A_TIME, replicas: 2, updatedReplicas: 1 }),
      nodes: 1,
      want: ONE_AT_A_TIME,
    },
    { name: 'rollout away from Required with no status yet: one at a time', placement: SINGLE_NODE, live: live({ strategy: ONE_AT_A_TIME, noStatus: true }), nodes: 1, want: ONE_AT_A_TIME },
    { name: 'rollout away from Required finished: back to surge', placement: SINGLE_NODE, live: live({ strategy: ONE_AT_A_TIME }), nodes: 1, want: SURGE_FIRST },
    {
      name: 'maxSurge read back as the string "0" counts as one at a time',
      placement: SINGLE_NODE,
      live: live({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '0' as unknown as number, maxUnavailable: 1 } }, replicas: 2 }),
      nodes: 1,
      want: ONE_AT_A_TIME,
    },
    { name: 'surging Deployment mid-rollout keeps surging', placement: SINGLE_NODE, live: live({ strategy: SURGE_FIRST, replicas: 2, updatedReplicas: 1 }), nodes: 1, want: SURGE_FIRST },
    { name: 'a live Deployment with no strategy (defaulted by the apiserver): surge', placement: COMPACT, live: live({}), nodes: 3, want: SURGE_FIRST },
  ];
  for (const c of cases) {
    it(c.name, () => expect(rolloutStrategy(c.placement, c.live, c.nodes)).to.deep.equal(c.want));
  }

  const mayRun: { name: string; live: V1Deployment | undefined; want: boolean }[] = [
    { name: 'no Deployment', live: undefined, want: false },
    { name: 'Required template', live: live({ required: true, strategy: SURGE_FIRST }), want: true },
    { name: 'one at a time, rollout unfinished', live: live({ strategy: ONE_AT_A_TIME, replicas: 2 }), want: true },
    { name: 'one at a time, rollout finished', live: live({ strategy: ONE_AT_A_TIME }), want: false },
    { name: 'surge, rollout unfinished', live: live({ strategy: SURGE_FIRST, replicas: 2 }), want: false },
  ];
  for (const c of mayRun) {
    it(`requiredPodsMayRun: ${c.name}`, () => expect(requiredPodsMayRun(c.live)).to.equal(c.want));
  }

  const finished: { name: string; shape: LiveShape; want: boolean }[] = [
    { name: 'observed and all pods updated', shape: {}, want: true },
    { name: 'spec not yet observed', shape: { generation: 5, observedGeneration: 4 }, want: false },
    { name: 'old pods still counted', shape: { replicas: 3, updatedReplicas: 1 }, want: false },
    { name: 'no status at all', shape: { noStatus: true }, want: false },
  ];
  for (const c of finished) {
    it(`rolloutFinished: ${c.name}`, () => expect(rolloutFinished(live(c.shape))).to.equal(c.want));
  }

  it('buildDeployment takes the strategy from the live Deployment it is given', () => {
    const leaving = live({ required: true, strategy: ONE_AT_A_TIME });
    const d = buildDeployment(memcached({}), defaulted({}), SINGLE_NODE, { defaultImage: 'memcached:1.6', live: leaving, schedulableNodes: 1 });
    expect(d.spec!.strategy).to.deep.equal(ONE_AT_A_TIME);
    const spare = buildDeployment(memcached({}), defaulted({}), SINGLE_NODE, { defaultImage: 'memcached:1.6', live: leaving, schedulableNodes: 2 });
    expect(spare.spec!.strategy).to.deep.equal(SURGE_FIRST);
    expect(buildDeployment(memcached({}), defaulted({}), SINGLE_NODE, { defaultImage: 'memcached:1.6' }).spec!.strategy).to.deep.equal(SURGE_FIRST);
  });
});
