import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { lockDataDir } from './data-dir-lock';
import { EmbeddedConnection } from './embedded-connection';

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

/** Opens (creating on first use) the PGlite database persisted in `dataDir`, holding its lock until closed. */
export async function openEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const release = lockDataDir(dataDir);
  try {
    // PGlite is ESM-only; `module: node20` keeps this a real dynamic import in the CommonJS build.
    const { PGlite } = await import('@electric-sql/pglite');
    // A new data dir is made in a thread of its own (see the worker): ~400 MB less resident memory until restart.
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await createDataDir(dataDir);
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

/** Runs initdb for `dataDir` in a thread that ends with it (pglite-initdb.worker.js). */
function createDataDir(dataDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(join(__dirname, 'pglite-initdb.worker.js'), { workerData: dataDir });
    let answer: { done?: true; error?: string } | undefined;
    worker.once('message', (message: { done?: true; error?: string }) => (answer = message));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (answer?.done) resolve();
      else
        reject(new Error(`the embedded database could not be created: ${answer?.error ?? `exit ${code}`}`));
    });
  });
}
