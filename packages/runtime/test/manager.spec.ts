import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { KubeConfig } from '@kubernetes/client-node';
import { FakeClock } from '../src/testing.js';
import type { StopOptions } from '../src/controller.js';
import type { LeaderCallbacks, LeaderElector } from '../src/leaderelection/elector.js';
import { Manager, installSignalHandlers } from '../src/manager.js';
import { recordingLogger, settle } from './fakes.js';

class RecordingRunnable {
  readonly stops: StopOptions[] = [];
  starts = 0;
  synced = true;
  constructor(
    readonly name: string,
    private readonly journal: string[],
  ) {}
  start(): void {
    this.starts++;
    this.journal.push(`start ${this.name}`);
  }
  stop(options: StopOptions): Promise<void> {
    this.stops.push(options);
    this.journal.push(`stop ${this.name}`);
    return Promise.resolve();
  }
  hasSynced(): boolean {
    return this.synced;
  }
}

class FakeElection implements LeaderElector {
  callbacks: LeaderCallbacks | undefined;
  healthy = true;
  constructor(private readonly journal: string[]) {}
  isLeader(): boolean {
    return false;
  }
  stop(): void {
    this.journal.push('stop election');
  }
  healthCheck(): void {
    if (!this.healthy) throw new Error('lease not renewed');
  }
  run(callbacks: LeaderCallbacks): Promise<void> {
    this.callbacks = callbacks;
    return Promise.resolve();
  }
  release(): Promise<void> {
    this.journal.push('release');
    return Promise.resolve();
  }
}

function newManager(extra: { leaderElection?: LeaderElector; onLeadershipLost?: (reason: string) => void } = {}) {
  const { logger } = recordingLogger();
  const clock = new FakeClock();
  const manager = new Manager({
    kubeConfig: new KubeConfig(),
    logger,
    clock,
    healthProbeBindAddress: '127.0.0.1:0',
    metricsBindAddress: '0',
    gracefulShutdownTimeoutMs: 5000,
    ...extra,
  });
  return { manager, clock };
}

describe('runtime/manager', () => {
  it("registers the elector's health check as leader-election on /healthz", async () => {
    const election = new FakeElection([]);
    const { manager } = newManager({ leaderElection: election });
    const { healthAddress } = await manager.start();
    const healthz = (): Promise<Response> => fetch(`http://127.0.0.1:${healthAddress!.port}/healthz?verbose`);
    const ok = await healthz();
    expect(ok.status).to.equal(200);
    expect(await ok.text()).to.contain('leader-election ok');
    election.healthy = false;
    const failing = await healthz();
    expect(failing.status).to.equal(500);
    expect(await failing.text()).to.contain('leader-election failed');
    await manager.shutdown();
  });

  it('without election starts caches and leader runnables, and shuts down in order', async () => {
    const journal: string[] = [];
    const { manager } = newManager();
    const cache = new RecordingRunnable('cache', journal);
    const controller = new RecordingRunnable('controller', journal);
    manager.addCache(cache);
    manager.addLeaderRunnable(controller);
    const { healthAddress } = await manager.start();
    await settle();
    expect(healthAddress?.port).to.be.greaterThan(0);
    expect(manager.isLeader()).to.equal(true);
    await manager.shutdown('test');
    expect(journal).to.deep.equal(['start cache', 'start controller', 'stop controller', 'stop cache']);
    expect(controller.stops).to.deep.equal([{ timeoutMs: 5000 }]);
    expect(() => manager.addCache(cache)).to.throw(/already started/);
  });

  it('gates leader runnables on election and releases leadership after they stop', async () => {
    const journal: string[] = [];
    const election = new FakeElection(journal);
    const { manager } = newManager({ leaderElection: election });
    const controller = new RecordingRunnable('controller', journal);
    manager.addCache(new RecordingRunnable('cache', journal));
    manager.addLeaderRunnable(controller);
    await manager.start();
    await settle();
    expect(controller.starts).to.equal(0);
    election.callbacks?.onStartedLeading(new AbortController().signal);
    await settle();
    expect(controller.starts).to.equal(1);
    await manager.shutdown();
    expect(journal).to.deep.equal(['start cache', 'start controller', 'stop controller', 'release', 'stop cache']);
  });

  it('on leader loss aborts in-flight reconciles and reports it', async () => {
    const journal: string[] = [];
    const election = new FakeElection(journal);
    const lost: string[] = [];
    const { manager } = newManager({ leaderElection: election, onLeadershipLost: (reason) => lost.push(reason) });
    const controller = new RecordingRunnable('controller', journal);
    manager.addLeaderRunnable(controller);
    await manager.start();
    const leadership = new AbortController();
    election.callbacks?.onStartedLeading(leadership.signal);
    await settle();
    leadership.abort();
    election.callbacks?.onStoppedLeading(); // reported twice: handled once
    await settle();
    expect(controller.stops).to.deep.equal([{ abort: true }]);
    expect(lost).to.have.length(1);
    expect(manager.isLeader()).to.equal(false);
    await manager.shutdown();
  });

  it('stops waiting for reconciles that ignore their abort signal', async () => {
    const { manager, clock } = newManager();
    const stuck = { name: 'stuck', start: () => undefined, stop: () => new Promise<void>(() => undefined) };
    manager.addLeaderRunnable(stuck);
    await manager.start();
    let done = false;
    const shuttingDown = manager.shutdown().then(() => (done = true));
    await clock.advanceAsync(5000 + 4999);
    expect(done).to.equal(false);
    await clock.advanceAsync(1);
    await shuttingDown;
    expect(done).to.equal(true);
  });

  it('validates bind addresses up front', () => {
    const { logger } = recordingLogger();
    expect(() => new Manager({ kubeConfig: new KubeConfig(), logger, metricsBindAddress: 'nonsense' })).to.throw(/invalid bind address "nonsense"/);
  });

  it('signal handlers: first signal shuts down, second exits', () => {
    const proc = new EventEmitter();
    const { logger } = recordingLogger();
    const reasons: string[] = [];
    let forced = 0;
    const uninstall = installSignalHandlers(
      { logger, shutdown: (reason?: string) => (reasons.push(reason ?? ''), Promise.resolve()) },
      { processLike: proc as unknown as Pick<NodeJS.Process, 'on' | 'off'>, onSecondSignal: () => forced++ },
    );
    proc.emit('SIGTERM', 'SIGTERM');
    expect(reasons).to.deep.equal(['received SIGTERM']);
    expect(forced).to.equal(0);
    proc.emit('SIGINT', 'SIGINT');
    expect(forced).to.equal(1);
    uninstall();
    expect(proc.listenerCount('SIGTERM')).to.equal(0);
  });
});
