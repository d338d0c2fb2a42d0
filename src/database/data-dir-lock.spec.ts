import { ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootId, pidNamespace, processStartTime } from '../common/runtime/process-identity';
import { DataDirInUseError, LOCK_LEASE_MS, LOCK_RENEW_MS, lockDataDir } from './data-dir-lock';

const PROC =
  existsSync(`/proc/${process.pid}/stat`) && bootId() !== undefined && pidNamespace() !== undefined;
if (!PROC)
  console.warn('SKIPPED data-dir-lock process tests: no /proc with a boot id and a PID namespace here');
const onProc = PROC ? it : it.skip;
const DEAD_PID = 2147483646;

/** A lock in the format this version writes. */
function lock(
  pid: number,
  startTime = processStartTime(pid),
  boot = bootId(),
  namespace = pidNamespace(),
): string {
  return `${pid} ${startTime} ${boot} ${namespace}`;
}

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
    expect(readdirSync(dir)).toEqual([]);
  }

  function expectRefused(pid: number): void {
    const before = readFileSync(lockFile, 'utf8');
    expect(() => lockDataDir(dataDir)).toThrow(DataDirInUseError);
    expect(() => lockDataDir(dataDir)).toThrow(`in use by process ${pid}`);
    expect(readFileSync(lockFile, 'utf8')).toBe(before);
    expect(readdirSync(dir)).toEqual(['pgdata.lock']);
  }

  onProc('records the pid, its start time, the boot id and the PID namespace; release removes it', () => {
    const release = lockDataDir(dataDir);
    expect(readFileSync(lockFile, 'utf8')).toBe(lock(process.pid));
    expect(lock(process.pid)).toMatch(/^\d+ \d+ [0-9a-f-]{36} \d+$/);
    release();
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
      writeFileSync(lockFile, lock(process.pid, '1'));
      expectTakenOver();
    },
  );

  onProc(
    'takes over a lock naming a running, unrelated process with another start time (a reused pid)',
    () => {
      const pid = startSleeper();
      writeFileSync(lockFile, lock(pid, '1'));
      expectTakenOver();
    },
  );

  onProc('refuses a lock whose holder runs with the start time recorded', () => {
    const pid = startSleeper();
    writeFileSync(lockFile, lock(pid));
    expectRefused(pid);
  });

  onProc(
    'takes over a lock written in another boot, even if its pid and start time match a process now',
    () => {
      const pid = startSleeper();
      writeFileSync(lockFile, lock(pid, undefined, '00000000-0000-0000-0000-000000000000'));
      expectTakenOver();
    },
  );

  onProc('takes over a lock whose process no longer runs, in either format', () => {
    writeFileSync(lockFile, String(DEAD_PID));
    expectTakenOver();
    writeFileSync(lockFile, lock(DEAD_PID, '12345'));
    expectTakenOver();
  });

  it('refuses a pid-only lock (an older version) naming a running process: it cannot be told apart', () => {
    const pid = startSleeper();
    writeFileSync(lockFile, String(pid));
    expectRefused(pid);
  });

  it('refuses a pid-only lock naming this pid, as before (an older version in another container may hold it)', () => {
    writeFileSync(lockFile, String(process.pid));
    expectRefused(process.pid);
  });

  // Two containers on one volume: both servers can be pid 1, and neither can look up the other's pids.
  onProc(
    'refuses a lock from another PID namespace while it is renewed, and takes it over once it is not',
    () => {
      writeFileSync(lockFile, lock(process.pid, '1', bootId(), '1'));
      expectRefused(process.pid);
      expect(() => lockDataDir(dataDir)).toThrow('in another PID namespace');
      const expired = new Date(Date.now() - LOCK_LEASE_MS - 1000);
      utimesSync(lockFile, expired, expired);
      expectTakenOver();
    },
  );

  it('renews its lock while held', () => {
    jest.useFakeTimers({ doNotFake: ['Date'] });
    try {
      const release = lockDataDir(dataDir);
      const old = new Date(Date.now() - LOCK_LEASE_MS);
      utimesSync(lockFile, old, old);
      jest.advanceTimersByTime(LOCK_RENEW_MS);
      expect(Date.now() - statSync(lockFile).mtimeMs).toBeLessThan(LOCK_RENEW_MS);
      release();
    } finally {
      jest.useRealTimers();
    }
  });

  // The real exit is in test/e2e/embedded-lock-process.spec.ts; here, the handler it runs.
  it('is released when the process exits without closing', () => {
    lockDataDir(dataDir);
    const onExit = process.listeners('exit').find((listener) => String(listener).includes('heldLocks'));
    expect(onExit).toBeDefined();
    (onExit as () => void)();
    expect(existsSync(lockFile)).toBe(false);
  });

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
