import { EMBEDDED_DURABILITY_WARNING } from '../../src/database/embedded-durability';
import { useTestApp } from '../support/app';
import { LogCapture } from '../support/log-capture';
import { PRODUCTION_SETTINGS } from '../support/production-settings';

const PRODUCTION = {
  ...PRODUCTION_SETTINGS,
  ENVIRONMENT: 'production',
  BCRYPT_COST: '10',
  LOG_LEVEL: 'info',
};
const isWarning = (line: Record<string, unknown>) => line.msg === EMBEDDED_DURABILITY_WARNING;

/**
 * PGlite never flushes to disk (README: "Two commands"): a production start on it says so once. When it does
 * not warn (outside production, on PostgreSQL, with fsync on) is src/database/embedded-durability.spec.
 */
describe('a production start on the embedded database', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({ database: 'pglite', env: PRODUCTION, logDestination: logs });

  it('warns once that a power loss can lose writes, because PGlite runs with fsync off', async () => {
    expect(await ctx.dataSource.query('SHOW fsync')).toEqual([{ fsync: 'off' }]);
    expect(await logs.onlyLine(isWarning)).toMatchObject({ level: 40, context: 'Database' });
  });
});
