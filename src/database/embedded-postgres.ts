import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { EmbeddedConnection } from './embedded-connection';
import { processAlive } from '../common/runtime/process-alive';

/** What the app needs of a PGlite instance (its ESM and CJS typings differ, so a structural type). */
export interface PGliteHandle {
  readonly closed: boolean;
  close(): Promise<void>;
}

export interface EmbeddedPostgres {
  pglite: PGliteHandle;
  /** A node-postgres client config whose `connection` talks to PGlite in-process. */
  pgConfig: Record<string, unknown>;
}

export class DataDirInUseError extends Error {
  constructor(dataDir: string, pid: number) {
    super(`The embedded database in ${dataDir} is in use by process ${pid}; stop it or use another DATA_DIR`);
    this.name = 'DataDirInUseError';
  }
}

/**
 * PGlite does not lock its data directory, and two processes writing one directory corrupt it. A lock file
 * holding our pid is taken atomically (O_EXCL); a lock left by a process that no longer runs is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  const lockFile = `${dataDir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockFile, 'utf8') === String(process.pid)) unlinkSync(lockFile);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lockFile, 'utf8'));
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
        throw new DataDirInUseError(dataDir, holder);
      }
      if (holder === process.pid) throw new DataDirInUseError(dataDir, holder);
      unlinkSync(lockFile); // stale: its process is gone
    }
  }
  throw new Error(`Could not lock ${dataDir}`);
}

/** Opens (creating on first use) the PGlite database persisted in `dataDir`, holding its lock until closed. */
export async function openEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const release = lockDataDir(dataDir);
  try {
    // PGlite is ESM-only; `module: node20` keeps this a real dynamic import in the CommonJS build.
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = await PGlite.create({ dataDir });
    const handle: PGliteHandle = {
      get closed() {
        return pglite.closed;
      },
      async close() {
        try {
          if (!pglite.closed) await pglite.close();
        } finally {
          release();
        }
      },
    };
    // The pool's one client: PGlite is one session (credentials and host are placeholders pg requires).
    const pgConfig = {
      connection: new EmbeddedConnection(pglite),
      user: 'postgres',
      password: 'embedded',
      database: 'postgres',
      host: 'localhost',
      port: 5432,
    };
    return { pglite: handle, pgConfig };
  } catch (error) {
    release();
    throw error;
  }
}
