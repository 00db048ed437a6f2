// The benchmark's audit-log reader across the apiserver's log rotation
// (lumberjack renames audit.log to audit-<time>.log at 100 MB and starts a
// new file). Before the fix, a mark taken before a rotation read nothing:
// the new audit.log was shorter than the mark, so N=1000 counted 0 writes.
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { auditMark, auditWrites } from '../../../bench/env.js';

const T0 = Date.parse('2026-11-25T10:00:00Z');

function line(user: string, i: number, resource = 'deployments'): string {
  return (
    JSON.stringify({
      kind: 'Event',
      level: 'Metadata',
      stage: 'ResponseComplete',
      verb: 'patch',
      user: { username: user },
      objectRef: { resource, namespace: 'ns' },
      requestReceivedTimestamp: new Date(T0 + i * 1000).toISOString(),
      responseStatus: { code: 200 },
    }) + '\n'
  );
}

describe('bench audit log reader', () => {
  let dir: string;
  let log: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-'));
    log = path.join(dir, 'audit.log');
    // Before the mark: other writes that must not count.
    writeFileSync(log, line('bench-operator', 0) + line('kwok-admin', 1));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads only what was written after the mark', () => {
    const mark = auditMark(log);
    appendFileSync(log, line('bench-operator', 2) + line('kwok-admin', 3) + line('bench-operator', 4, 'services'));
    const writes = auditWrites(mark, { user: 'bench-operator' }, log);
    expect(writes.map((w) => w.resource)).to.deep.equal(['deployments', 'services']);
  });

  it('follows the marked file through a rotation and reads the backups and the new file after it', () => {
    const mark = auditMark(log);
    appendFileSync(log, line('bench-operator', 2));
    renameSync(log, path.join(dir, 'audit-2026-11-25T10-00-03.000.log'));
    writeFileSync(log, line('bench-operator', 4) + line('kwok-admin', 5));
    renameSync(log, path.join(dir, 'audit-2026-11-25T10-00-06.000.log'));
    // The live file is now shorter than the mark's offset.
    writeFileSync(log, line('bench-operator', 7));
    const writes = auditWrites(mark, { user: 'bench-operator' }, log);
    expect(writes.map((w) => w.at)).to.deep.equal([T0 + 2000, T0 + 4000, T0 + 7000]);
  });

  it('reads every file, bounded by time, when the marked file is gone', () => {
    const mark = auditMark(log);
    appendFileSync(log, line('bench-operator', 2));
    rmSync(log);
    writeFileSync(log, line('bench-operator', 3));
    const writes = auditWrites({ ...mark, ino: -1 }, { user: 'bench-operator', fromMs: T0 + 1500 }, log);
    expect(writes.map((w) => w.at)).to.deep.equal([T0 + 3000]);
  });

  it('counts nothing while the log does not exist', () => {
    const missing = path.join(dir, 'later', 'audit.log');
    const mark = auditMark(missing);
    expect(auditWrites(mark, {}, missing)).to.deep.equal([]);
  });
});
