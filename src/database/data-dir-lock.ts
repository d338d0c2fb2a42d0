import { randomBytes } from 'node:crypto';
import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { ExplainedError } from '../common/config/problems';
import { processAlive } from '../common/runtime/process-alive';
import { bootId, pidNamespace, processStartTime } from '../common/runtime/process-identity';

/** The holder touches its lock this often; a lock from another PID namespace untouched for LOCK_LEASE_MS is stale. */
export const LOCK_RENEW_MS = 10_000;
export const LOCK_LEASE_MS = 60_000;

export class DataDirInUseError extends ExplainedError {
  constructor(
    dataDir: string,
    readonly pid: number,
    readonly elsewhere = false,
  ) {
    const where = elsewhere
      ? ` (in another PID namespace: its lock is taken over once not renewed for ${LOCK_LEASE_MS / 1000} s)`
      : '';
    super(
      `The embedded database in ${dataDir} is in use by process ${pid}${where}; stop it or use another DATA_DIR`,
    );
    this.name = 'DataDirInUseError';
  }
}

/** A lock file's holder: its pid and, where Linux tells them, its start time, boot and PID namespace. */
interface LockHolder {
  pid: number;
  identity?: { startTime: string; bootId: string; pidNamespace: string };
}

/** What this process records: `<pid> <start time> <boot id> <pid namespace>`, or `<pid>` where /proc is not. */
function ownLock(): string {
  const identity = [processStartTime(process.pid), bootId(), pidNamespace()];
  return identity.every((part) => part !== undefined)
    ? `${process.pid} ${identity.join(' ')}`
    : String(process.pid);
}

function parseLock(text: string): LockHolder | undefined {
  const match = /^\s*(\d+)(?: (\d+) ([0-9a-f-]+) (\d+))?\s*$/.exec(text);
  const pid = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (match[2] === undefined) return { pid };
  return { pid, identity: { startTime: match[2], bootId: match[3], pidNamespace: match[4] } };
}

/**
 * Whether the process that wrote the lock may still run. Integrity: a wrong "no" lets two servers write one
 * directory, so a holder is presumed alive wherever its identity cannot be checked; a wrong "yes" only blocks.
 */
function holderRuns(holder: LockHolder, lockFile: string): 'here' | 'elsewhere' | false {
  const { pid, identity } = holder;
  // A pid alone (an older version, or no /proc): as before, since a live holder cannot be told from a reused pid.
  if (!identity) return pid === process.pid || processAlive(pid) ? 'here' : false;
  const boot = bootId();
  if (boot !== undefined && identity.bootId !== boot) return false;
  if (identity.pidNamespace !== pidNamespace()) {
    // Its pids are not ours to look up (another container, or the host): only its renewals show it runs.
    const renewed = statSync(lockFile, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    return Date.now() - renewed < LOCK_LEASE_MS ? 'elsewhere' : false;
  }
  if (!processAlive(pid)) return false;
  const startTime = processStartTime(pid);
  return startTime === undefined || startTime === identity.startTime ? 'here' : false;
}

/**
 * Publishes the lock whole, or returns false if there is one: written under another name, then linked into place
 * (link, like O_EXCL, fails on an existing file), so no one reads a half-written lock and judges it stale.
 */
function createLock(lockFile: string, content: string): boolean {
  const temp = `${lockFile}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, content, { mode: 0o600 });
    linkSync(temp, lockFile);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  // A file system without hard links: exclusive creation, then the write.
  try {
    const fd = openSync(lockFile, 'wx', 0o600);
    writeSync(fd, content);
    closeSync(fd);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

function readLock(lockFile: string): string | undefined {
  try {
    return readFileSync(lockFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Removes the lock judged stale. Moved aside first: if another server took it over since we read it, the lock
 * moved is that server's live one, and goes back.
 */
function removeStaleLock(lockFile: string, judged: string): void {
  const aside = `${lockFile}.${randomBytes(6).toString('hex')}.stale`;
  try {
    renameSync(lockFile, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (readFileSync(aside, 'utf8') === judged) unlinkSync(aside);
  else renameSync(aside, lockFile);
}

/** The releases of the locks this process holds: exiting without closing (a startup that failed after opening)
 * frees them too, so only a crash leaves a lock behind. */
const heldLocks = new Set<() => void>();
process.on('exit', () => heldLocks.forEach((release) => release()));

/**
 * PGlite does not lock its data directory, and two processes writing one directory corrupt it. `<dataDir>.lock`
 * names the process holding it; a lock left by a process that no longer runs is taken over, including when its
 * pid now belongs to another process or to this one (a container's server has the same pid on every start).
 * A holder in another PID namespace is judged by its renewals. Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  const content = ownLock();
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createLock(lockFile, content)) {
      const renewal = setInterval(() => {
        try {
          const now = new Date();
          utimesSync(lockFile, now, now);
        } catch {
          // Gone or unwritable: nothing to renew.
        }
      }, LOCK_RENEW_MS).unref();
      const release = (): void => {
        clearInterval(renewal);
        heldLocks.delete(release);
        try {
          if (readLock(lockFile) === content) unlinkSync(lockFile);
        } catch {
          // Already gone: nothing to release.
        }
      };
      heldLocks.add(release);
      return release;
    }
    const existing = readLock(lockFile);
    if (existing === undefined) continue; // released meanwhile
    const holder = parseLock(existing);
    const runs = holder && holderRuns(holder, lockFile);
    if (holder && runs) throw new DataDirInUseError(dataDir, holder.pid, runs === 'elsewhere');
    removeStaleLock(lockFile, existing);
  }
  throw new Error(`Could not lock ${dataDir}`);
}
