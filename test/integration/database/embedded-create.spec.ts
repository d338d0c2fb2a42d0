import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedPostgres } from '../../../src/database/embedded-postgres';

/** A new embedded data dir is made by initdb in a thread of its own (pglite-initdb.worker.js), then opened. */
describe('openEmbeddedPostgres on a data dir that does not exist yet', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'vcp-create-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates it and opens it', async () => {
    const dataDir = join(dir, 'pgdata');
    const { pglite } = await openEmbeddedPostgres(dataDir);
    try {
      expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
      expect(pglite.closed).toBe(false);
    } finally {
      await pglite.close();
    }
  }, 60_000);

  it('says why when initdb cannot make it, and leaves the data dir unlocked', async () => {
    const dataDir = join(dir, 'pgdata');
    writeFileSync(dataDir, 'a file where the data dir should be');
    await expect(openEmbeddedPostgres(dataDir)).rejects.toThrow(
      /the embedded database could not be created: /,
    );
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  }, 60_000);
});
