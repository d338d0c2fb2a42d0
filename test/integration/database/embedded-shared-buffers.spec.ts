import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigValidationError } from '../../../src/common/config/problems';
import { loadDatabaseSettings } from '../../../src/config/load-config';
import { EMBEDDED_SHARED_BUFFERS_MB } from '../../../src/database/database.config';
import { embeddedDataDir } from '../../../src/database/data-source.factory';
import { DatabaseFixture, databaseFixture } from '../../support/database-fixture';
import { migratedTemplate } from '../../support/pglite-template';

/** The app's database module on a fresh PGlite, with the given settings. */
function usePglite(env: Record<string, string>) {
  const ctx = {} as { fixture: DatabaseFixture };
  beforeAll(async () => {
    ctx.fixture = await databaseFixture('pglite', [], env);
  });
  afterAll(() => ctx.fixture?.close());
  const sharedBuffers = async () =>
    (await ctx.fixture.session.query<{ shared_buffers: string }>('SHOW shared_buffers'))[0].shared_buffers;
  return { ctx, sharedBuffers };
}

describe('EMBEDDED_SHARED_BUFFERS_MB', () => {
  describe('unset', () => {
    const { sharedBuffers } = usePglite({});

    // initdb writes PostgreSQL's own 128MB into the data dir's postgresql.conf; the start option overrides it.
    it(`gives the embedded database a ${EMBEDDED_SHARED_BUFFERS_MB} MB buffer pool, not PostgreSQL's 128 MB`, async () => {
      expect(EMBEDDED_SHARED_BUFFERS_MB).toBe(32);
      expect(await sharedBuffers()).toBe('32MB');
    });
  });

  describe('set', () => {
    const { ctx, sharedBuffers } = usePglite({ EMBEDDED_SHARED_BUFFERS_MB: '48' });

    it('sizes the pool as set', async () => {
      expect(await sharedBuffers()).toBe('48MB');
    });

    // PGlite's own `postgresqlconf` option would replace the data dir's whole postgresql.conf: a start option
    // leaves the file (initdb's locale, time zone and text search settings) as it was.
    it("leaves the data dir's postgresql.conf untouched", async () => {
      const conf = (dir: string) => readFileSync(join(dir, 'postgresql.conf'), 'utf8');
      const used = conf(embeddedDataDir(ctx.fixture.env.config));
      expect(used).toBe(conf(await migratedTemplate()));
      expect(used).toMatch(/^shared_buffers = 128MB/m);
    });
  });

  const settings = (value: string) =>
    loadDatabaseSettings({ ENVIRONMENT: 'test', DATA_DIR: tmpdir(), EMBEDDED_SHARED_BUFFERS_MB: value });

  it.each(['0', '1025', '2048', 'lots'])('refuses %s at the config check', (value) => {
    expect(() => settings(value)).toThrow(ConfigValidationError);
  });

  it('accepts 1 to 1024', () => {
    expect(settings('1').database.embeddedSharedBuffersMb).toBe(1);
    expect(settings('1024').database.embeddedSharedBuffersMb).toBe(1024);
  });
});
