import { expect } from 'chai';
import type { V1Deployment, V1DeploymentStrategy } from '@kubernetes/client-node';
import { ONE_AT_A_TIME, SURGE_FIRST, buildDeployment, rolloutFinished, rolloutStrategy } from '../../../src/memcached/deployment.js';
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
  const cases: { name: string; placement: typeof SINGLE_NODE; live: V1Deployment | undefined; want: V1DeploymentStrategy }[] = [
    { name: 'first creation without Required: surge', placement: SINGLE_NODE, live: undefined, want: SURGE_FIRST },
    { name: 'first creation with Required: one at a time', placement: HIGHLY_AVAILABLE, live: undefined, want: ONE_AT_A_TIME },
    { name: 'Required stays one at a time', placement: HIGHLY_AVAILABLE, live: live({ required: true, strategy: ONE_AT_A_TIME }), want: ONE_AT_A_TIME },
    {
      name: 'leaving Required (live template has it): one at a time, or the new pod waits beside the old one forever',
      placement: SINGLE_NODE,
      live: live({ required: true, strategy: ONE_AT_A_TIME, replicas: 3, updatedReplicas: 3 }),
      want: ONE_AT_A_TIME,
    },
    {
      name: 'leaving Required for Preferred: one at a time',
      placement: COMPACT,
      live: live({ required: true, strategy: ONE_AT_A_TIME }),
      want: ONE_AT_A_TIME,
    },
    {
      name: 'rollout away from Required not yet observed: one at a time',
      placement: SINGLE_NODE,
      live: live({ strategy: ONE_AT_A_TIME, generation: 3, observedGeneration: 2 }),
      want: ONE_AT_A_TIME,
    },
    {
      name: 'rollout away from Required with old pods left: one at a time',
      placement: SINGLE_NODE,
      live: live({ strategy: ONE_AT_A_TIME, replicas: 2, updatedReplicas: 1 }),
      want: ONE_AT_A_TIME,
    },
    {
      name: 'rollout away from Required with no status yet: one at a time',
      placement: SINGLE_NODE,
      live: live({ strategy: ONE_AT_A_TIME, noStatus: true }),
      want: ONE_AT_A_TIME,
    },
    {
      name: 'rollout away from Required finished: back to surge',
      placement: SINGLE_NODE,
      live: live({ strategy: ONE_AT_A_TIME, replicas: 1, updatedReplicas: 1 }),
      want: SURGE_FIRST,
    },
    {
      name: 'maxSurge read back as the string "0" counts as one at a time',
      placement: SINGLE_NODE,
      live: live({ strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '0' as unknown as number, maxUnavailable: 1 } }, replicas: 2 }),
      want: ONE_AT_A_TIME,
    },
    {
      name: 'surging Deployment mid-rollout keeps surging',
      placement: SINGLE_NODE,
      live: live({ strategy: SURGE_FIRST, replicas: 2, updatedReplicas: 1 }),
      want: SURGE_FIRST,
    },
    { name: 'a live Deployment with no strategy (defaulted by the apiserver): surge', placement: COMPACT, live: live({}), want: SURGE_FIRST },
  ];
  for (const c of cases) {
    it(c.name, () => expect(rolloutStrategy(c.placement, c.live)).to.deep.equal(c.want));
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
    const d = buildDeployment(memcached({}), defaulted({}), SINGLE_NODE, { defaultImage: 'memcached:1.6', live: leaving });
    expect(d.spec!.strategy).to.deep.equal(ONE_AT_A_TIME);
    expect(buildDeployment(memcached({}), defaulted({}), SINGLE_NODE, { defaultImage: 'memcached:1.6' }).spec!.strategy).to.deep.equal(SURGE_FIRST);
  });
});
