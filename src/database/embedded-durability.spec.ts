import { Logger } from '@nestjs/common';
import { CoreConfig } from '../common/config/core.config';
import { EMBEDDED_DURABILITY_WARNING, EmbeddedDurabilityWarning } from './embedded-durability';
import { DatabaseSession } from './transaction-runner';

/** The gate around the warning; the warning itself, on real PGlite and PostgreSQL, is test/e2e/embedded-durability. */
describe('EmbeddedDurabilityWarning', () => {
  afterEach(() => jest.restoreAllMocks());

  async function warningsAt(setup: { singleSession: boolean; isProduction: boolean; fsync: string }) {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const query = jest.fn().mockResolvedValue([{ fsync: setup.fsync }]);
    const session = { singleSession: setup.singleSession, query } as unknown as DatabaseSession;
    const core = { isProduction: setup.isProduction } as CoreConfig;
    await new EmbeddedDurabilityWarning(session, core).onApplicationBootstrap();
    return {
      warnings: warn.mock.calls.map(([message]) => message as unknown),
      queried: query.mock.calls.length,
    };
  }

  it('warns in production on the embedded database with fsync off', async () => {
    expect(await warningsAt({ singleSession: true, isProduction: true, fsync: 'off' })).toEqual({
      warnings: [EMBEDDED_DURABILITY_WARNING],
      queried: 1,
    });
  });

  it('says nothing outside production (a newcomer’s npm start), and asks the database nothing', async () => {
    expect(await warningsAt({ singleSession: true, isProduction: false, fsync: 'off' })).toEqual({
      warnings: [],
      queried: 0,
    });
  });

  it('says nothing on PostgreSQL, which flushes, and asks it nothing', async () => {
    expect(await warningsAt({ singleSession: false, isProduction: true, fsync: 'on' })).toEqual({
      warnings: [],
      queried: 0,
    });
  });

  it('says nothing when the embedded database flushes (a PGlite with fsync on)', async () => {
    expect(await warningsAt({ singleSession: true, isProduction: true, fsync: 'on' })).toEqual({
      warnings: [],
      queried: 1,
    });
  });
});
