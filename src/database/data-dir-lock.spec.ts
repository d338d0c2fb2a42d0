import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootId, processStartTime } from '../common/runtime/process-identity';
import { DataDirInUseError, lockDataDir } from './data-dir-lock';

const PROC = existsSync(`/proc/${process.pid}/stat`) && bootId() !== undefined;
const onProc = PROC ? it : it.skip;
const DEAD_PID = 2147483646;

/** A crashed server's lock must not block every restart; a live server's lock must block every other opener. */
describe('lockDataDir', () => {
  let dir: string;
  let dataDir: string;
  let lockFile: string;
  let sleeper: ChildProcess | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vcp-lock-'));
    dataDir = join(dir, 'pgdata');
    lockFile = `${dataDir}.lock`;
  });
  afterEach(() => {
    sleeper?.kill('SIGKILL');
    sleeper = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /** A running process unrelated to the lock (what a reused pid belongs to). */
  function startSleeper(): number {
    sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    return sleeper.pid!;
  }

  function expectTakenOver(): void {
    const release = lockDataDir(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toMatch(new RegExp(`^${process.pid}\\b`));
    release();
    expect(existsSync(lockFile)).toBe(false);
  }

  function expectRefused(pid: number): void {
    const before = readFileSync(lockFile, 'utf8');
    expect(() => lockDataDir(dataDir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dataDir)).toThrow(`in use by process ${pid};`);
    expect(readFileSync(lockFile, 'utf8')).toBe(before);
  }

  onProc('records the pid, its start time and the boot id, and removes the lock on release', () => {
    const release = lockDataDir(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toBe(
      `${process.pid} ${processStartTime(process.pid)} ${bootId()}`,
    );
    release();
    expect(existsSync(lockFile)).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('refuses a second opener while held, in this very process too, and allows it after release', () => {
    const release = lockDataDir(dataDir);
    expectRefused(process.pid);
    release();
    expectTakenOver();
  });

  onProc(
    'takes over a lock naming this pid with another start time (a container restarted after a crash)',
    () => {
      writeFileSync(lockFile, `${process.pid} 1 ${bootId()}`);
      expectTakenOver();
    },
  );

  onProc(
    'takes over a lock naming a running, unrelated process with another start time (a reused pid)',
    () => {
      const pid = startSleeper();
      writeFileSync(lockFile, `${pid} 1 ${bootId()}`);
      expectTakenOver();
    },
  );

  onProc('refuses a lock whose holder runs with the start time recorded', () => {
    const pid = startSleeper();
    writeFileSync(lockFile, `${pid} ${processStartTime(pid)} ${bootId()}`);
    expectRefused(pid);
  });

  onProc(
    'takes over a lock written in another boot, even if its pid and start time match a process now',
    () => {
      const pid = startSleeper();
      writeFileSync(lockFile, `${pid} ${processStartTime(pid)} 00000000-0000-0000-0000-000000000000`);
      expectTakenOver();
    },
  );

  it('takes over a lock whose process no longer runs, in either format', () => {
    writeFileSync(lockFile, String(DEAD_PID));
    expectTakenOver();
    writeFileSync(lockFile, `${DEAD_PID} 12345 ${bootId() ?? 'b00d'}`);
    expectTakenOver();
  });

  it('refuses a pid-only lock (an older version) naming a running process: it cannot be told apart', () => {
    const pid = startSleeper();
    writeFileSync(lockFile, String(pid));
    expectRefused(pid);
  });

  onProc(
    'takes over a pid-only lock naming this pid: where /proc is, this process would have recorded more',
    () => {
      writeFileSync(lockFile, String(process.pid));
      expectTakenOver();
    },
  );

  it('takes over an unreadable lock, as before', () => {
    writeFileSync(lockFile, 'not a pid');
    expectTakenOver();
  });

  it('does not remove, on release, a lock that is no longer its own', () => {
    const release = lockDataDir(dataDir);
    writeFileSync(lockFile, String(DEAD_PID));
    release();
    expect(readFileSync(lockFile, 'utf8')).toBe(String(DEAD_PID));
  });
});
