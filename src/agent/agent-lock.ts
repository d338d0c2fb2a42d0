import { join } from 'node:path';
import { makeDirectories } from '../common/fs/make-directories';
import { DataDirInUseError, LOCK_LEASE_MS, lockDataDir } from '../database/data-dir-lock';
import { AgentSetupError } from './identity';

/**
 * One agent per data dir (`<data dir>/agent.lock`, as the server locks its embedded database): two would run
 * as one node, together past its concurrency, writing one cache. A lock left by a crash is taken over.
 */
export function lockAgentDataDir(dataDir: string): () => void {
  try {
    makeDirectories(dataDir, 0o700);
    return lockDataDir(join(dataDir, 'agent'));
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      const elsewhere = error.elsewhere
        ? ` (in another PID namespace: its lock is taken over once not renewed for ${LOCK_LEASE_MS / 1000} s)`
        : '';
      throw new AgentSetupError(
        `the data dir ${dataDir} is in use by agent process ${error.pid}${elsewhere}: a data dir is one node; ` +
          'stop that agent, or give this one another --data-dir',
      );
    }
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw new AgentSetupError(`cannot use the data dir ${dataDir} (${code}): give a writable --data-dir`);
  }
}
