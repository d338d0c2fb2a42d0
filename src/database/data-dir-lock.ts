import {
  closeSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { processAlive } from '../common/runtime/process-alive';
import { bootId, processStartTime } from '../common/runtime/process-identity';

export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(`The embedded database in ${dataDir} is in use by process ${pid}; stop it or use another DATA_DIR`);
    this.name = 'DataDirInUseError';
  }
}

/** A lock file's holder: its pid and, where Linux tells them, that process's start time and the boot it ran in. */
interface LockHolder {
  pid: number;
  startTime?: string;
  bootId?: string;
}

/** What this process records: `<pid>`, or `<pid> <start time> <boot id>` where /proc gives them. */
function ownLock(): string {
  const startTime = processStartTime(process.pid);
  const boot = bootId();
  return startTime !== undefined && boot !== undefined
    ? `${process.pid} ${startTime} ${boot}`
    : String(process.pid);
}

function parseLock(text: string): LockHolder | undefined {
  const match = /^\s*(\d+)(?: (\d+) ([0-9a-f-]+))?\s*$/.exec(text);
  const pid = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: match[2], bootId: match[3] };
}

/**
 * Whether the process that wrote the lock still runs. Integrity: a wrong "no" lets two servers write one
 * directory, so a holder is presumed alive wherever its identity cannot be checked; a wrong "yes" only blocks.
 */
function holderRuns(holder: LockHolder): boolean {
  const boot = bootId();
  if (holder.bootId !== undefined && boot !== undefined && holder.bootId !== boot) return false;
  if (holder.startTime === undefined) {
    // A pid alone (an older version, or no /proc): where /proc is, this process would have recorded more.
    if (holder.pid === process.pid) return processStartTime(process.pid) === undefined;
    return processAlive(holder.pid);
  }
  if (!processAlive(holder.pid)) return false;
  const startTime = processStartTime(holder.pid);
  return startTime === undefined || startTime === holder.startTime;
}

/**
 * Publishes the lock whole, or returns false if there is one: written under another name, then linked into place
 * (link, like O_EXCL, fails on an existing file), so no one reads a half-written lock and judges it stale.
 */
function createLock(lockFile: string, content: string): boolean {
  const temp = `${lockFile}.${process.pid}.tmp`;
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
  const aside = `${lockFile}.${process.pid}.stale`;
  try {
    renameSync(lockFile, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (readFileSync(aside, 'utf8') === judged) unlinkSync(aside);
  else renameSync(aside, lockFile);
}

/**
 * PGlite does not lock its data directory, and two processes writing one directory corrupt it. `<dataDir>.lock`
 * names the process holding it; a lock left by a process that no longer runs is taken over, including when its
 * pid now belongs to another process or to this one (a container's server has the same pid on every start).
 * Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  const content = ownLock();
  for (let attempt = 0; attempt < 3; attempt++) {
    if (createLock(lockFile, content)) {
      return () => {
        try {
          if (readLock(lockFile) === content) unlinkSync(lockFile);
        } catch {
          // Already gone: nothing to release.
        }
      };
    }
    const existing = readLock(lockFile);
    if (existing === undefined) continue; // released meanwhile
    const holder = parseLock(existing);
    if (holder && holderRuns(holder)) throw new DataDirInUseError(dataDir, holder.pid);
    removeStaleLock(lockFile, existing);
  }
  throw new Error(`Could not lock ${dataDir}`);
}
