import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { lockDataDir } from './data-dir-lock';
import { EMBEDDED_SHARED_BUFFERS_MB } from './database.config';
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
export async function openEmbeddedPostgres(
  dataDir: string,
  sharedBuffersMb = EMBEDDED_SHARED_BUFFERS_MB,
): Promise<EmbeddedPostgres> {
  const release = lockDataDir(dataDir);
  try {
    // Loaded on first use: a server on PostgreSQL never loads PGlite. `module: node20` keeps this a real dynamic
    // import in the CommonJS build (PGlite's ES module build, as the initdb thread loads it).
    const { PGlite } = await import('@electric-sql/pglite');
    // A new data dir is made in a thread of its own (see the worker): ~400 MB less resident memory until restart.
    // A start option, not postgresql.conf: PGlite's `postgresqlconf` would overwrite the data dir's whole file.
    const startParams = [...PGlite.defaultStartParams, '-c', `shared_buffers=${sharedBuffersMb}MB`];
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await createDataDir(dataDir, startParams);
    const pglite = await PGlite.create({ dataDir, startParams }).catch((error: unknown) => {
      throw openFailure(dataDir, error);
    });
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

/** PGlite's own errors on a damaged data dir ("Aborted()", a TypeError) name neither the dir nor a way out. */
function openFailure(dataDir: string, error: unknown): Error {
  return new Error(
    `the embedded database in ${dataDir} could not be opened: ${reasonOf(error)}. If it never held data (an ` +
      "older version's first start, interrupted), delete it and start again; otherwise restore it from a backup " +
      '(README: "Backup and restore")',
    { cause: error },
  );
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Makes a new data dir whole or not at all. initdb writes into a sibling (`<dataDir>.creating`) that is renamed
 * onto `dataDir` once complete: a start killed meanwhile (kill -9, Ctrl-C during a first `npm start`) left a
 * data dir with PG_VERSION but not all of its files, which PGlite could never open again. A leftover sibling
 * is an earlier creation's that did not finish; the caller holds the data dir's lock, so nobody else uses it.
 */
async function createDataDir(dataDir: string, startParams: string[]): Promise<void> {
  const building = `${dataDir}.creating`;
  try {
    const existing = statSync(dataDir, { throwIfNoEntry: false });
    // Said before initdb's seconds rather than by the rename after them.
    if (existing && !existing.isDirectory()) throw new Error(`${dataDir} is not a directory`);
    // Files without PG_VERSION: an older version's interrupted creation (it wrote in place); initdb over them
    // in place, as that version did, rather than move or delete files this version did not write.
    if (existing && readdirSync(dataDir).length > 0) return await runInitdb(dataDir, startParams);
    rmSync(building, { recursive: true, force: true });
    mkdirSync(building, { mode: 0o700 }); // only the server's user reads the database
    await runInitdb(building, startParams);
    renameSync(building, dataDir); // atomic on one file system (and replaces an empty dir)
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`the embedded database could not be created: ${reasonOf(error)}`, { cause: error });
  }
}

/**
 * Runs initdb for `dataDir` in a thread that ends with it (pglite-initdb.worker.js). The thread's instance
 * starts as the serving one will (`startParams`: its buffer pool), so the first start's peak is no larger.
 */
function runInitdb(dataDir: string, startParams: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(join(__dirname, 'pglite-initdb.worker.js'), {
      workerData: { dataDir, startParams },
    });
    let answer: { done?: true; error?: string } | undefined;
    worker.once('message', (message: { done?: true; error?: string }) => (answer = message));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (answer?.done) resolve();
      else reject(new Error(answer?.error ?? `initdb's thread exited with ${code}`));
    });
  });
}
