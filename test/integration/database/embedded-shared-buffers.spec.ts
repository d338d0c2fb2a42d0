import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Test, TestingModule } from '@nestjs/testing';
import { ConfigModule } from '../../../src/config/config.module';
import { loadDatabaseSettings } from '../../../src/config/load-config';
import { EMBEDDED_SHARED_BUFFERS_MB } from '../../../src/database/database.config';
import { DatabaseModule } from '../../../src/database/database.module';
import { embeddedDataDir } from '../../../src/database/data-source.factory';
import { DatabaseSession } from '../../../src/database/transaction-runner';
import { ConfigValidationError } from '../../../src/common/config/problems';
import { testConfig, TestConfig } from '../../support/config';

/** The app's database module on a fresh PGlite, with the given settings. */
function usePglite(env: Record<string, string>) {
  const ctx = {} as {
    env: TestConfig;
    moduleRef: TestingModule;
    session: DatabaseSession;
    confBefore: string;
  };
  beforeAll(async () => {
    ctx.env = testConfig(env);
    ctx.confBefore = readFileSync(join(embeddedDataDir(ctx.env.config), 'postgresql.conf'), 'utf8');
    ctx.moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(ctx.env.config), DatabaseModule],
    }).compile();
    await ctx.moduleRef.init();
    ctx.session = ctx.moduleRef.get(DatabaseSession);
  });
  afterAll(async () => {
    await ctx.moduleRef?.close();
    ctx.env?.cleanup();
  });
  const sharedBuffers = async () =>
    (await ctx.session.query<{ shared_buffers: string }>('SHOW shared_buffers'))[0].shared_buffers;
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
    it("leaves the data dir's postgresql.conf untouched", () => {
      const conf = readFileSync(join(embeddedDataDir(ctx.env.config), 'postgresql.conf'), 'utf8');
      expect(conf).toBe(ctx.confBefore);
      expect(conf).toMatch(/^shared_buffers = 128MB/m);
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
