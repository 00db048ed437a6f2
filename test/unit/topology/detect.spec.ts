import type { V1Node, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { expect } from 'chai';
import {
  clusterTopology,
  countZones,
  schedulableNodes,
  toleratesNodeTaints,
  toleratesTaint,
  topologyFromInfrastructure,
} from '../../../src/topology/detect.js';
import { ARBITER_TAINT, CP_ROLES, CP_TAINTS, infrastructure, node } from './fixtures.js';

describe('topology: topologyFromInfrastructure', () => {
  const known: [unknown, unknown, string, string][] = [
    ['HighlyAvailable', 'HighlyAvailable', 'HighlyAvailable', 'HighlyAvailable'],
    ['SingleReplica', 'SingleReplica', 'SingleReplica', 'SingleReplica'],
    ['DualReplica', 'HighlyAvailable', 'DualReplica', 'HighlyAvailable'],
    ['HighlyAvailableArbiter', 'HighlyAvailable', 'HighlyAvailableArbiter', 'HighlyAvailable'],
    ['External', 'HighlyAvailable', 'External', 'HighlyAvailable'],
    ['External', 'SingleReplica', 'External', 'SingleReplica'],
  ];
  for (const [cp, infra, wantCp, wantInfra] of known) {
    it(`reads ${String(cp)}/${String(infra)} without warnings`, () => {
      expect(topologyFromInfrastructure(infrastructure(cp, infra))).to.deep.equal({
        controlPlane: wantCp,
        infrastructure: wantInfra,
        warnings: [],
      });
    });
  }

  // [description, object, expected warnings]; every one of them counts as HighlyAvailable.
  const bad: [string, unknown, string[]][] = [
    ['null', null, ['the Infrastructure object is null, not an object; treating the cluster as HighlyAvailable']],
    ['a string', 'cluster', ['the Infrastructure object is a string, not an object; treating the cluster as HighlyAvailable']],
    ['an array', [infrastructure('SingleReplica', 'SingleReplica')], ['the Infrastructure object is an array, not an object; treating the cluster as HighlyAvailable']],
    ['undefined, when called directly', undefined, ['the Infrastructure object is undefined, not an object; treating the cluster as HighlyAvailable']],
    ['a number', 42, ['the Infrastructure object is a number, not an object; treating the cluster as HighlyAvailable']],
    ['no status', { metadata: { name: 'cluster' }, spec: {} }, ['Infrastructure "cluster" has no status yet; treating the cluster as HighlyAvailable']],
    ['a null status', { metadata: { name: 'cluster' }, status: null }, ['Infrastructure "cluster" has no status yet; treating the cluster as HighlyAvailable']],
    ['no metadata and no status', {}, ['Infrastructure "cluster" has no status yet; treating the cluster as HighlyAvailable']],
    ['a string status', { metadata: { name: 'other' }, status: 'SingleReplica' }, ['Infrastructure "other" has a status that is a string, not an object; treating the cluster as HighlyAvailable']],
    ['an array status', { metadata: { name: 7 }, status: [] }, ['Infrastructure "cluster" has a status that is an array, not an object; treating the cluster as HighlyAvailable']],
    [
      'an empty status (before 4.6)',
      { metadata: { name: 'cluster' }, status: {} },
      [
        'status.controlPlaneTopology is empty; treating it as HighlyAvailable',
        'status.infrastructureTopology is empty; treating it as HighlyAvailable',
      ],
    ],
    [
      'empty strings',
      infrastructure('', ''),
      [
        'status.controlPlaneTopology is empty; treating it as HighlyAvailable',
        'status.infrastructureTopology is empty; treating it as HighlyAvailable',
      ],
    ],
    [
      'unknown values',
      infrastructure('Triple', 'Weird'),
      [
        'status.controlPlaneTopology "Triple" is not a known value; treating it as HighlyAvailable',
        'status.infrastructureTopology "Weird" is not a known value; treating it as HighlyAvailable',
      ],
    ],
    [
      'External, which is not valid for the infrastructure',
      infrastructure('HighlyAvailable', 'External'),
      ['status.infrastructureTopology "External" is not a known value; treating it as HighlyAvailable'],
    ],
    [
      'wrong case',
      infrastructure('singlereplica', 'HighlyAvailable'),
      ['status.controlPlaneTopology "singlereplica" is not a known value; treating it as HighlyAvailable'],
    ],
    [
      'wrong types',
      infrastructure(1, { value: 'SingleReplica' }),
      [
        'status.controlPlaneTopology is a number, not a string; treating it as HighlyAvailable',
        'status.infrastructureTopology is an object, not a string; treating it as HighlyAvailable',
      ],
    ],
    [
      'arrays and booleans',
      infrastructure(['SingleReplica'], true),
      [
        'status.controlPlaneTopology is an array, not a string; treating it as HighlyAvailable',
        'status.infrastructureTopology is a boolean, not a string; treating it as HighlyAvailable',
      ],
    ],
  ];
  for (const [what, obj, warnings] of bad) {
    it(`treats ${what} as HighlyAvailable with a warning`, () => {
      const got = topologyFromInfrastructure(obj);
      expect(got.controlPlane).to.equal('HighlyAvailable');
      expect(got.infrastructure).to.equal('HighlyAvailable');
      expect(got.warnings).to.deep.equal(warnings);
    });
  }

  it('keeps the good field when only the other one is bad', () => {
    const got = topologyFromInfrastructure(infrastructure('DualReplica', 'Weird'));
    expect(got.controlPlane).to.equal('DualReplica');
    expect(got.infrastructure).to.equal('HighlyAvailable');
    expect(got.warnings).to.have.length(1);
  });

  it('keeps warnings to one short line, whatever the value', () => {
    const got = topologyFromInfrastructure(infrastructure(`Evil\nlog line ${'x'.repeat(500)}`, 'HighlyAvailable'));
    expect(got.warnings).to.have.length(1);
    expect(got.warnings[0]).to.not.include('\n');
    expect(got.warnings[0].length).to.be.lessThan(160);
  });

  it('never throws, whatever it is given', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const inputs: unknown[] = [
      undefined,
      Symbol('x'),
      () => 1,
      new Date(0),
      { status: cyclic },
      infrastructure(cyclic, 10n),
      Object.create(null),
      { status: { controlPlaneTopology: Symbol('y'), infrastructureTopology: undefined } },
    ];
    for (const input of inputs) {
      const got = topologyFromInfrastructure(input);
      expect(got.controlPlane).to.equal('HighlyAvailable');
      expect(got.infrastructure).to.equal('HighlyAvailable');
      expect(got.warnings.length).to.be.greaterThan(0);
    }
  });
});

describe('topology: toleration matching', () => {
  const taint = (key: string, effect: string, value?: string): V1Taint => ({ key, effect, ...(value !== undefined ? { value } : {}) });
  // [description, toleration, taint, tolerated]
  const table: [string, V1Toleration, V1Taint, boolean][] = [
    ['Exists on the key, any effect', { key: 'k', operator: 'Exists' }, taint('k', 'NoSchedule'), true],
    ['Exists ignores the taint value', { key: 'k', operator: 'Exists' }, taint('k', 'NoSchedule', 'v'), true],
    ['Exists on another key', { key: 'other', operator: 'Exists' }, taint('k', 'NoSchedule'), false],
    ['empty key with Exists matches every taint', { operator: 'Exists' }, taint('anything', 'NoExecute', 'v'), true],
    ['empty key with Exists and an effect matches that effect', { operator: 'Exists', effect: 'NoSchedule' }, taint('anything', 'NoSchedule'), true],
    ['empty key with Exists and another effect', { operator: 'Exists', effect: 'NoExecute' }, taint('anything', 'NoSchedule'), false],
    ['empty key with Equal (invalid) matches nothing', { operator: 'Equal' }, taint('k', 'NoSchedule'), false],
    ['empty key without an operator matches nothing', {}, taint('k', 'NoSchedule'), false],
    ['Equal with the same value', { key: 'k', operator: 'Equal', value: 'v' }, taint('k', 'NoSchedule', 'v'), true],
    ['Equal with another value', { key: 'k', operator: 'Equal', value: 'v' }, taint('k', 'NoSchedule', 'w'), false],
    ['Equal without a value and a taint without one', { key: 'k', operator: 'Equal' }, taint('k', 'NoSchedule'), true],
    ['Equal with an empty value and a valued taint', { key: 'k', operator: 'Equal', value: '' }, taint('k', 'NoSchedule', 'v'), false],
    ['operator defaults to Equal', { key: 'k', value: 'v' }, taint('k', 'NoSchedule', 'v'), true],
    ['operator defaults to Equal, values differ', { key: 'k', value: 'v' }, taint('k', 'NoSchedule'), false],
    ['same effect', { key: 'k', operator: 'Exists', effect: 'NoExecute' }, taint('k', 'NoExecute'), true],
    ['another effect', { key: 'k', operator: 'Exists', effect: 'NoSchedule' }, taint('k', 'NoExecute'), false],
    ['an empty effect matches every effect', { key: 'k', operator: 'Exists', effect: '' }, taint('k', 'NoExecute'), true],
    ['an unknown operator matches nothing', { key: 'k', operator: 'In', value: 'v' }, taint('k', 'NoSchedule', 'v'), false],
    ['keys are case-sensitive', { key: 'K', operator: 'Exists' }, taint('k', 'NoSchedule'), false],
    [
      'the control-plane taint, tolerated',
      { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
      taint('node-role.kubernetes.io/control-plane', 'NoSchedule'),
      true,
    ],
  ];
  for (const [what, toleration, t, want] of table) {
    it(`${what}: ${want ? 'tolerated' : 'not tolerated'}`, () => {
      expect(toleratesTaint(toleration, t)).to.equal(want);
    });
  }

  it('ignores PreferNoSchedule taints and needs every NoSchedule/NoExecute one tolerated', () => {
    const taints = [taint('a', 'PreferNoSchedule'), taint('b', 'NoSchedule'), taint('c', 'NoExecute')];
    expect(toleratesNodeTaints(taints, [])).to.equal(false);
    expect(toleratesNodeTaints(taints, [{ key: 'b', operator: 'Exists' }])).to.equal(false);
    expect(toleratesNodeTaints(taints, [{ key: 'b', operator: 'Exists' }, { key: 'c', operator: 'Exists' }])).to.equal(true);
    expect(toleratesNodeTaints([taint('a', 'PreferNoSchedule')], [])).to.equal(true);
    expect(toleratesNodeTaints(undefined, [])).to.equal(true);
    expect(toleratesNodeTaints(taints, [{ operator: 'Exists' }])).to.equal(true);
  });
});

describe('topology: schedulableNodes', () => {
  const names = (nodes: { metadata?: { name?: string } }[]): string[] => nodes.map((n) => n.metadata?.name ?? '');

  it('keeps Ready nodes and drops NotReady, Unknown and condition-less ones', () => {
    const nodes = [
      node('ready'),
      node('not-ready', { ready: false }),
      node('unknown', { ready: 'Unknown' }),
      node('no-ready-condition', { ready: 'missing' }),
      { metadata: { name: 'no-status' } },
    ];
    expect(names(schedulableNodes(nodes))).to.deep.equal(['ready']);
  });

  it('drops cordoned nodes', () => {
    const nodes = [node('a'), node('cordoned', { unschedulable: true }), node('b', { unschedulable: false })];
    expect(names(schedulableNodes(nodes))).to.deep.equal(['a', 'b']);
  });

  it('drops nodes with untolerated NoSchedule or NoExecute taints, keeps PreferNoSchedule ones', () => {
    const nodes = [
      node('cp', { roles: CP_ROLES, taints: CP_TAINTS }),
      node('noexecute', { taints: [{ key: 'dedicated', value: 'db', effect: 'NoExecute' }] }),
      node('prefer', { taints: [{ key: 'dedicated', value: 'db', effect: 'PreferNoSchedule' }] }),
      node('worker', { roles: ['worker'] }),
    ];
    expect(names(schedulableNodes(nodes))).to.deep.equal(['prefer', 'worker']);
    expect(names(schedulableNodes(nodes, [{ key: 'dedicated', operator: 'Equal', value: 'db' }]))).to.deep.equal([
      'noexecute',
      'prefer',
      'worker',
    ]);
    // Both control-plane taints must be tolerated.
    expect(names(schedulableNodes(nodes, [{ key: CP_TAINTS[0], operator: 'Exists' }]))).to.deep.equal(['prefer', 'worker']);
    expect(names(schedulableNodes(nodes, CP_TAINTS.map((key) => ({ key, operator: 'Exists' }))))).to.deep.equal([
      'cp',
      'prefer',
      'worker',
    ]);
  });

  it('keeps untainted control-plane nodes: on SNO and compact clusters they are the workers', () => {
    const nodes = [node('sno-0', { roles: [...CP_ROLES, 'worker'] })];
    expect(names(schedulableNodes(nodes))).to.deep.equal(['sno-0']);
  });

  it('never keeps arbiter nodes, tainted or not, even when everything is tolerated', () => {
    const nodes = [
      node('master-0', { roles: [...CP_ROLES, 'worker'] }),
      node('arbiter-0', { roles: ['arbiter'], taints: [ARBITER_TAINT] }),
      node('arbiter-1', { roles: ['arbiter'] }),
      node('arbiter-2', { labels: { 'node-role.kubernetes.io/arbiter': 'true' } }),
    ];
    expect(names(schedulableNodes(nodes))).to.deep.equal(['master-0']);
    expect(names(schedulableNodes(nodes, [{ operator: 'Exists' }]))).to.deep.equal(['master-0']);
  });

  it('applies the nodeSelector', () => {
    const nodes = [
      node('a', { labels: { disk: 'ssd', tier: 'cache' } }),
      node('b', { labels: { disk: 'hdd', tier: 'cache' } }),
      node('c'),
    ];
    expect(names(schedulableNodes(nodes, [], { disk: 'ssd' }))).to.deep.equal(['a']);
    expect(names(schedulableNodes(nodes, [], { tier: 'cache' }))).to.deep.equal(['a', 'b']);
    expect(names(schedulableNodes(nodes, [], { tier: 'cache', disk: 'nvme' }))).to.deep.equal([]);
    expect(names(schedulableNodes(nodes, [], {}))).to.deep.equal(['a', 'b', 'c']);
    expect(names(schedulableNodes(nodes, [], { 'kubernetes.io/hostname': 'c' }))).to.deep.equal(['c']);
  });

  it('skips malformed node objects instead of throwing', () => {
    const weird = [
      null,
      'node',
      { metadata: null, spec: null, status: null },
      { metadata: { name: 'null-labels', labels: null }, status: { conditions: [null, { type: 'Ready', status: 'True' }] } },
      { metadata: { name: 'null-taint' }, spec: { taints: [null] }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    ] as unknown as V1Node[];
    expect(names(schedulableNodes(weird))).to.deep.equal(['null-labels', 'null-taint']);
    expect(names(schedulableNodes(weird, [], { a: 'b' }))).to.deep.equal([]);
    expect(countZones(weird)).to.equal(0);
    expect(clusterTopology({ nodes: weird }).topology.schedulableNodes).to.equal(2);
  });

  it('counts distinct, non-empty zones', () => {
    expect(countZones([])).to.equal(0);
    expect(countZones([node('a'), node('b')])).to.equal(0);
    expect(countZones([node('a', { zone: 'z1' }), node('b', { zone: 'z1' }), node('c', { zone: 'z2' }), node('d')])).to.equal(2);
    expect(countZones([node('a', { zone: '' })])).to.equal(0);
  });
});

describe('topology: clusterTopology', () => {
  const workers = (n: number) => Array.from({ length: n }, (_, i) => node(`worker-${i}`, { roles: ['worker'], zone: `z${i % 2}` }));

  it('prefers the Infrastructure object over the node count', () => {
    const got = clusterTopology({ infrastructure: infrastructure('SingleReplica', 'SingleReplica'), nodes: workers(3) });
    expect(got.topology).to.deep.equal({
      controlPlane: 'SingleReplica',
      infrastructure: 'SingleReplica',
      source: 'Infrastructure',
      schedulableNodes: 3,
      zones: 2,
    });
    expect(got.warnings).to.deep.equal([]);
  });

  it('falls back to the nodes without an Infrastructure object', () => {
    expect(clusterTopology({ nodes: workers(1) })).to.deep.equal({
      topology: { controlPlane: 'SingleReplica', infrastructure: 'SingleReplica', source: 'Nodes', schedulableNodes: 1, zones: 1 },
      warnings: [],
    });
    expect(clusterTopology({ infrastructure: undefined, nodes: workers(2) })).to.deep.equal({
      topology: { controlPlane: 'HighlyAvailable', infrastructure: 'HighlyAvailable', source: 'Nodes', schedulableNodes: 2, zones: 2 },
      warnings: [],
    });
    expect(clusterTopology({ nodes: workers(7) }).topology.infrastructure).to.equal('HighlyAvailable');
  });

  it('counts only schedulable nodes for the fallback, without any tolerations', () => {
    // One worker plus tainted control planes and a NotReady node: a single schedulable node.
    const nodes = [
      node('worker-0', { roles: ['worker'] }),
      node('worker-1', { roles: ['worker'], ready: false }),
      ...[0, 1, 2].map((i) => node(`master-${i}`, { roles: CP_ROLES, taints: CP_TAINTS })),
    ];
    const got = clusterTopology({ nodes });
    expect(got.topology.infrastructure).to.equal('SingleReplica');
    expect(got.topology.schedulableNodes).to.equal(1);
  });

  it('treats no schedulable node as HighlyAvailable, with a warning', () => {
    const got = clusterTopology({ nodes: [node('down', { ready: false })] });
    expect(got.topology).to.deep.equal({
      controlPlane: 'HighlyAvailable',
      infrastructure: 'HighlyAvailable',
      source: 'Nodes',
      schedulableNodes: 0,
      zones: 0,
    });
    expect(got.warnings).to.have.length(1);
    expect(got.warnings[0]).to.match(/^no schedulable nodes yet .*treating the cluster as HighlyAvailable$/);
  });

  it('warns when an Infrastructure cluster has no schedulable node either', () => {
    const got = clusterTopology({ infrastructure: infrastructure('HighlyAvailable', 'HighlyAvailable'), nodes: [] });
    expect(got.topology.source).to.equal('Infrastructure');
    expect(got.warnings).to.have.length(1);
    expect(got.warnings[0]).to.match(/^no schedulable nodes yet .*Pending/);
  });

  it('treats a null Infrastructure as present but unreadable: HighlyAvailable, with a warning', () => {
    const got = clusterTopology({ infrastructure: null, nodes: workers(1) });
    expect(got.topology.source).to.equal('Infrastructure');
    expect(got.topology.infrastructure).to.equal('HighlyAvailable');
    expect(got.topology.controlPlane).to.equal('HighlyAvailable');
    expect(got.warnings).to.deep.equal(['the Infrastructure object is null, not an object; treating the cluster as HighlyAvailable']);
  });

  it('passes the Infrastructure warnings on', () => {
    const got = clusterTopology({ infrastructure: infrastructure('HighlyAvailable', 'Weird'), nodes: workers(3) });
    expect(got.topology.infrastructure).to.equal('HighlyAvailable');
    expect(got.warnings).to.deep.equal([
      'status.infrastructureTopology "Weird" is not a known value; treating it as HighlyAvailable',
    ]);
  });
});
