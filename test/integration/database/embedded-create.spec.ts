import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedPostgres } from '../../../src/database/embedded-postgres';

/**
 * A new embedded data dir is made by initdb in a thread of its own (pglite-initdb.worker.js), in a sibling
 * renamed into place once complete, then opened. The kill -9 half of this is test/e2e/embedded-create-killed.
 */
describe('openEmbeddedPostgres making a new data dir', () => {
  let dir: string;
  let dataDir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vcp-create-'));
    dataDir = join(dir, 'pgdata');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function openAndClose(): Promise<void> {
    const { pglite } = await openEmbeddedPostgres(dataDir);
    expect(pglite.closed).toBe(false);
    await pglite.close();
  }

  // Two initdb runs in all (several seconds each on a loaded machine), so the creating cases share them.
  it("creates it whole over an earlier creation's unfinished sibling; initdb runs in place over an older version's", async () => {
    mkdirSync(`${dataDir}.creating`);
    writeFileSync(join(`${dataDir}.creating`, 'PG_VERSION'), '17\n'); // half-made: the rest never came
    await openAndClose();
    expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(true);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(existsSync(`${dataDir}.creating`)).toBe(false);
    await openAndClose(); // a half-made dir fails here, as it did when initdb wrote in place

    // Files and no PG_VERSION: what an older version left when killed mid-creation (it wrote in place).
    rmSync(join(dataDir, 'PG_VERSION'));
    rmSync(join(dataDir, 'global'), { recursive: true });
    await openAndClose();
    expect(existsSync(join(dataDir, 'global'))).toBe(true);
    expect(existsSync(`${dataDir}.creating`)).toBe(false);
  }, 180_000);

  it('names the data dir and a way out when it cannot be opened, and leaves it unlocked', async () => {
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'PG_VERSION'), 'not a version\n');
    await expect(openEmbeddedPostgres(dataDir)).rejects.toThrow(
      `the embedded database in ${dataDir} could not be opened: `,
    );
    await expect(openEmbeddedPostgres(dataDir)).rejects.toThrow(
      /delete it and start again; otherwise restore/,
    );
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  }, 60_000);

  it('says why when it cannot be made, and leaves neither a lock nor a sibling behind', async () => {
    writeFileSync(dataDir, 'a file where the data dir should be');
    await expect(openEmbeddedPostgres(dataDir)).rejects.toThrow(
      /the embedded database could not be created: /,
    );
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    expect(existsSync(`${dataDir}.creating`)).toBe(false);
  }, 60_000);
});
