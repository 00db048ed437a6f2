// No OOM kill at full cache: memcached with the command line the operator
// renders, confined as the kubelet confines its pod (a memory cgroup limited
// to the container's derived limit, containerMemoryMi; for a warm-restart
// size, the -e file on a tmpfs the size the kubelet mounts the RAM disk
// with), filled past full with the items that grow its hash table most,
// stays up: the same pid answers stats, and the cgroup killed nothing. Two
// controls show the proof can fail: the same fill in a limit without
// headroom is OOM-killed, and a file larger than its tmpfs dies of SIGBUS.
// Runs the local memcached (make test-unit installs it); needs root for the
// cgroup and the mount, and fails, saying so, without it.
import { expect } from 'chai';
import { fetchStats } from '../../../src/protocol/client.js';
import { DEFAULT_MAX_CONNECTIONS } from '../../../src/memcached/children/args.js';
import { containerMemoryMi } from '../../../src/memcached/children/resources.js';
import { cacheVolumeMi, MEMORY_FILE_SLACK_MI } from '../../../src/memcached/children/statefulset.js';
import { eventually } from '../../support/cluster.js';
import { startConfined, type ConfinedMemcached, type ConfinedOptions } from '../../support/confined-memcached.js';
import { fillPastFull, WORKLOADS, type FillOptions } from '../../support/memcached-fill.js';
import { readMemoryCgroup, readProcessMemory } from '../../support/memory-cgroup.js';

/** Every item in memcached's smallest chunk: the most items, the largest hash table. */
const TINY = WORKLOADS.find((w) => w.name === 'tiny')!;
const FILL_TIMEOUT_MS = 30_000;
const NO_ROOM_YET = 'SERVER_ERROR out of memory storing object';

/** The container limit the operator derives, and the tmpfs the kubelet mounts for the pod's RAM disk: the smaller of its sizeLimit and the pod's limit. */
function pod(memoryMB: number): { limitMi: number; ramDiskMi: number } {
  const limitMi = containerMemoryMi(memoryMB, DEFAULT_MAX_CONNECTIONS);
  return { limitMi, ramDiskMi: Math.min(cacheVolumeMi(memoryMB, limitMi), limitMi) };
}

function fillOptions(memoryMB: number, firstKey = 0): FillOptions {
  return { workload: TINY, connections: 4, batch: 2000, beyondFull: 0.25, maxSets: Math.ceil((3 * memoryMB * 2 ** 20) / 96), timeoutMs: FILL_TIMEOUT_MS, firstKey };
}

describe('memory: a full cache within the derived container limit is not OOM-killed', function () {
  this.timeout(120_000);
  let mc: ConfinedMemcached | undefined;

  async function confined(opts: ConfinedOptions): Promise<ConfinedMemcached> {
    mc = await startConfined(opts);
    return mc;
  }
  afterEach(async () => {
    await mc?.stop();
    mc = undefined;
  });

  /** Fills past full, then: the same memcached (pid) answers stats and has evicted, and its cgroup killed nothing and is not out of memory. */
  async function fillAndSurvive(m: ConfinedMemcached, memoryMB: number, firstKey = 0): Promise<number> {
    const endpoint = { host: '127.0.0.1', port: m.port };
    const fill = await fillPastFull(endpoint, fillOptions(memoryMB, firstKey));
    const stats = await fetchStats(endpoint, 10_000);
    const cgroup = readMemoryCgroup(m.cgroup);
    expect(cgroup.oomKills, 'OOM kills in the container cgroup').to.equal(0);
    expect(cgroup.underOom, 'the cgroup is out of memory').to.equal(false);
    expect(Number(stats.get('pid')), 'the memcached that answers').to.equal(m.pid);
    expect(readProcessMemory(m.pid), `memcached pid ${m.pid} is running`).to.not.equal(undefined);
    expect(Number(stats.get('evictions')), 'evictions: the cache is full').to.be.greaterThan(0);
    // memcached refuses a set now and then at full cache when the items it would evict are busy (its
    // own -m, measured without any cgroup limit too); anything else would be a fault.
    expect(Object.keys(fill.errors).filter((e) => e !== NO_ROOM_YET), 'errors memcached answered to the sets').to.deep.equal([]);
    return firstKey + fill.sets;
  }

  it('the default 64 MB, warm (-e on the RAM disk): full, restarted warm, full again', async () => {
    const { limitMi, ramDiskMi } = pod(64);
    const m = await confined({ memoryMB: 64, warm: true, limitMi, ramDiskMi });
    const sent = await fillAndSurvive(m, 64);
    const before = Number((await fetchStats({ host: '127.0.0.1', port: m.port }, 10_000)).get('curr_items'));
    await m.restartGraceful();
    const restored = Number((await fetchStats({ host: '127.0.0.1', port: m.port }, 10_000)).get('curr_items'));
    expect(restored, 'items restored by the warm restart').to.equal(before);
    await fillAndSurvive(m, 64, sent);
  });

  it('32 MB, cold (no -e below 64 MB)', async () => {
    const m = await confined({ memoryMB: 32, warm: false, limitMi: pod(32).limitMi });
    await fillAndSurvive(m, 32);
  });

  it('64 MB raised in place as far as its RAM disk allows, in the limit resized for the new -m', async () => {
    const started = pod(64);
    const raisedMB = cacheVolumeMi(64, started.limitMi) - MEMORY_FILE_SLACK_MI;
    expect(raisedMB, 'a raise in place is possible').to.be.greaterThan(64);
    const m = await confined({ memoryMB: raisedMB, warm: true, limitMi: containerMemoryMi(raisedMB), ramDiskMi: started.ramDiskMi });
    await fillAndSurvive(m, raisedMB);
  });

  it('control: the same fill in a limit of just -m (no headroom) is OOM-killed', async () => {
    const m = await confined({ memoryMB: 64, warm: false, limitMi: 64 });
    const filled = await fillPastFull({ host: '127.0.0.1', port: m.port }, fillOptions(64)).then(
      () => 'filled',
      (err: Error) => err.message,
    );
    await eventually('memcached to be killed', () => (m.server.proc.signalCode ?? undefined), { timeoutMs: 10_000, intervalMs: 50 });
    expect(m.server.proc.signalCode, `memcached's end (the fill: ${filled})`).to.equal('SIGKILL');
    expect(readMemoryCgroup(m.cgroup).oomKills, 'OOM kills in the cgroup').to.be.at.least(1);
  });

  it('control: a memory file larger than its tmpfs dies of SIGBUS (why the RAM disk never promises more than the pod limit)', async () => {
    const { limitMi, ramDiskMi } = pod(64);
    const beyondMB = ramDiskMi + MEMORY_FILE_SLACK_MI;
    const m = await confined({ memoryMB: beyondMB, warm: true, limitMi: containerMemoryMi(beyondMB), ramDiskMi });
    expect(limitMi).to.equal(ramDiskMi);
    const filled = await fillPastFull({ host: '127.0.0.1', port: m.port }, fillOptions(beyondMB)).then(
      () => 'filled',
      (err: Error) => err.message,
    );
    await eventually('memcached to die', () => (m.server.proc.signalCode ?? undefined), { timeoutMs: 10_000, intervalMs: 50 });
    expect(m.server.proc.signalCode, `memcached's end (the fill: ${filled})`).to.equal('SIGBUS');
    expect(readMemoryCgroup(m.cgroup).oomKills, 'OOM kills in the cgroup').to.equal(0);
  });
});
