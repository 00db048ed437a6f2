import { expect } from 'chai';
import { apiTime, findCondition, isConditionTrue, setCondition, type Condition } from '../src/conditions.js';

const T0 = new Date('2025-01-01T00:00:00.000Z');
const T1 = new Date('2025-01-01T00:05:00.250Z');

describe('conditions', () => {
  describe('findCondition and isConditionTrue', () => {
    const conditions = [
      { type: 'PodScheduled', status: 'True' },
      { type: 'Ready', status: 'False', reason: 'ContainersNotReady' },
      { type: 'Initialized', status: 'Unknown' },
    ];
    const cases: { name: string; list: { type?: string; status?: string }[] | undefined; type: string; found?: string; isTrue: boolean }[] = [
      { name: 'no list', list: undefined, type: 'Ready', isTrue: false },
      { name: 'an empty list', list: [], type: 'Ready', isTrue: false },
      { name: 'a type not in the list', list: conditions, type: 'Available', isTrue: false },
      { name: 'a True condition', list: conditions, type: 'PodScheduled', found: 'True', isTrue: true },
      { name: 'a False condition', list: conditions, type: 'Ready', found: 'False', isTrue: false },
      { name: 'an Unknown condition', list: conditions, type: 'Initialized', found: 'Unknown', isTrue: false },
      { name: 'a malformed entry is skipped', list: [null as never, { type: 'Ready', status: 'True' }], type: 'Ready', found: 'True', isTrue: true },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(findCondition(c.list, c.type)?.status).to.equal(c.found);
        expect(isConditionTrue(c.list, c.type)).to.equal(c.isTrue);
      });
    }

    it('returns the condition itself, typed as given', () => {
      expect(findCondition(conditions, 'Ready')).to.equal(conditions[1]);
    });
  });

  describe('apiTime', () => {
    it('drops the fraction of a second, as metav1.Time serializes', () => {
      expect(apiTime(T1)).to.equal('2025-01-01T00:05:00Z');
      expect(apiTime(T0)).to.equal('2025-01-01T00:00:00Z');
    });
  });

describe('setCondition', () => {
  const base: Condition = { type: 'Available', status: 'False', reason: 'ReplicasNotReady', message: '0/3', lastTransitionTime: apiTime(T0), observedGeneration: 1 };

  it('adds a new condition with lastTransitionTime now, at second precision', () => {
    expect(setCondition([], { type: 'Available', status: 'True', reason: 'AllReplicasReady', message: 'm' }, T1)).to.deep.equal([
      { type: 'Available', status: 'True', reason: 'AllReplicasReady', message: 'm', lastTransitionTime: '2025-01-01T00:05:00Z' },
    ]);
  });

  const cases: { name: string; update: Omit<Condition, 'lastTransitionTime'>; transition: boolean }[] = [
    { name: 'same status, new message: keeps the time', update: { ...base, message: '1/3' }, transition: false },
    { name: 'same status, new reason and generation: keeps the time', update: { ...base, reason: 'Other', observedGeneration: 2 }, transition: false },
    { name: 'new status: moves the time', update: { ...base, status: 'True', reason: 'AllReplicasReady' }, transition: true },
    { name: 'to Unknown: moves the time', update: { ...base, status: 'Unknown' }, transition: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { lastTransitionTime: _t, ...update } = c.update as Condition;
      const [got] = setCondition([base], update, T1);
      expect(got.lastTransitionTime).to.equal(c.transition ? '2025-01-01T00:05:00Z' : base.lastTransitionTime);
      expect(got).to.deep.include({ status: update.status, reason: update.reason, message: update.message });
      expect(got.observedGeneration).to.equal(update.observedGeneration);
    });
  }

  it('keeps the position of an existing condition and does not mutate its input', () => {
    const list: Condition[] = [base, { ...base, type: 'Degraded' }];
    const copy = structuredClone(list);
    const got = setCondition(list, { type: 'Available', status: 'True', reason: 'R', message: 'm' }, T1);
    expect(got.map((c) => c.type)).to.deep.equal(['Available', 'Degraded']);
    expect(list).to.deep.equal(copy);
  });

  it('appends a condition of a new type', () => {
    expect(setCondition([base], { type: 'Degraded', status: 'False', reason: 'AsExpected', message: '' }, T1).map((c) => c.type)).to.deep.equal([
      'Available',
      'Degraded',
    ]);
  });
});
});
