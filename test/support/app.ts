import { Type } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { DestinationStream } from 'pino';
import { configureApp, createFastifyAdapter } from '../../src/app.factory';
import { AppModule } from '../../src/app.module';
import { DataSource } from 'typeorm';
import { Clock } from '../../src/common/clock/clock';
import { AppConfig } from '../../src/config/app-config';
import { TestConfig } from './config';
import { createTestEnv, TestDatabaseKind, TestEnv } from './databases';
import { TestDatabase } from './postgres';

export interface BootOptions {
  extraModules?: Type[];
  logDestination?: DestinationStream;
  /** The app's clock (a FakeClock, say) in place of the system clock. */
  clock?: Clock;
}

/** The real app (same module, same HTTP setup as main.ts), optionally with extra test-only modules. */
export async function bootApp(config: AppConfig, options: BootOptions = {}): Promise<NestFastifyApplication> {
  let builder = Test.createTestingModule({
    imports: [
      AppModule.forRoot(config, { logDestination: options.logDestination }),
      ...(options.extraModules ?? []),
    ],
  });
  if (options.clock) builder = builder.overrideProvider(Clock).useValue(options.clock);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), {
    bufferLogs: true,
  });
  try {
    await configureApp(app, config);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  } catch (error) {
    // A boot that fails halfway has started timers and connections: without a close, Jest never exits.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

export interface TestAppContext {
  app: NestFastifyApplication;
  env: TestConfig;
  /** The private PostgreSQL database, or undefined on PGlite. */
  db: TestDatabase | undefined;
  dataSource: DataSource;
}

export interface TestAppOptions extends BootOptions {
  database?: TestDatabaseKind;
  env?: Record<string, string>;
  /** Settings known only once other beforeAll hooks have run (a port, say). */
  envFactory?: () => Record<string, string>;
}

/**
 * Boots the real app once for the enclosing describe block, on a private PostgreSQL database (default) or a
 * private PGlite directory, and tears everything down after. Read the fields inside hooks and tests. The
 * database is migrated already (copied from a template): the app's boot finds nothing to migrate, as at any
 * restart; migrating an empty database at boot is tested where a test makes its own (migrations.spec,
 * server-process.spec).
 */
export function useTestApp(options: TestAppOptions = {}): TestAppContext {
  const ctx = {} as TestAppContext;
  let testEnv: TestEnv | undefined;
  beforeAll(async () => {
    testEnv = await createTestEnv(options.database, { ...options.env, ...options.envFactory?.() });
    ctx.db = testEnv.db;
    ctx.env = testEnv;
    ctx.app = await bootApp(ctx.env.config, options);
    ctx.dataSource = ctx.app.get(DataSource);
  });
  afterAll(async () => {
    await ctx.app?.close();
    await testEnv?.dispose();
  });
  return ctx;
}
