import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { createDataSource, embeddedDataDir } from '../../src/database/data-source.factory';
import { testConfig, TestConfig } from '../support/config';

const BOOT_ID = '/proc/sys/kernel/random/boot_id';
const LINUX = existsSync(BOOT_ID);
if (!LINUX) console.warn(`SKIPPED embedded-lock boot-id test: no ${BOOT_ID} on this machine`);
const onLinux = LINUX ? it : it.skip;

/** Two processes on one PGlite directory would corrupt it; the data directory is locked while open. */
describe('embedded database lock', () => {
  let env: TestConfig;
  const open: DataSource[] = [];

  beforeAll(() => (env = testConfig()));
  afterAll(async () => {
    for (const ds of open) if (ds.isInitialized) await ds.destroy();
    env.cleanup();
  });

  async function openDb(): Promise<DataSource> {
    const ds = await createDataSource(env.config, { migrationsRun: false });
    open.push(ds);
    await ds.initialize();
    return ds;
  }

  it('refuses a second opener while the first holds it, and allows it after close', async () => {
    const first = await openDb();
    await expect(createDataSource(env.config)).rejects.toThrow(/is in use by process \d+/);
    await first.destroy();
    const second = await openDb();
    expect(await second.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await second.destroy();
  });

  it('takes over a lock left by a process that no longer runs', async () => {
    writeFileSync(`${embeddedDataDir(env.config)}.lock`, '2147483646');
    const ds = await openDb();
    expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await ds.destroy();
  });

  // A container's server has the same pid on every start: its own pid in the lock must not block the restart.
  onLinux(
    'takes over a lock naming this pid when that process started at another time (a crashed container)',
    async () => {
      const boot = readFileSync(BOOT_ID, 'utf8').trim();
      const namespace = /\d+/.exec(readlinkSync('/proc/self/ns/pid'))![0];
      writeFileSync(`${embeddedDataDir(env.config)}.lock`, `${process.pid} 1 ${boot} ${namespace}`);
      const ds = await openDb();
      expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      await ds.destroy();
    },
  );
});
