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

/** Opens (creating on first use) the PGlite database persisted in `dataDir`. */
export async function openEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  // PGlite is ESM-only; `module: node20` keeps this a real dynamic import in the CommonJS build.
  const { PGlite } = await import('@electric-sql/pglite');
  const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
  const pglite = await PGlite.create({ dataDir });
  const config = createPgConfig(pglite);
  return { pglite, pgConfig: { ...config, connection: config.connection } };
}
