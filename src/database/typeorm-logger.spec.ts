import { Logger } from '@nestjs/common';
import { MIGRATION_LOCK_WAIT } from './migration-lock';
import { TypeOrmLogAdapter } from './typeorm-logger';

describe('TypeOrmLogAdapter', () => {
  afterEach(() => jest.restoreAllMocks());

  it('logs a unique violation (a duplicate the code answers) at debug, any other failed query as a warning', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    const sut = new TypeOrmLogAdapter();
    const duplicate = Object.assign(new Error('duplicate key value violates unique constraint'), {
      code: '23505',
    });
    sut.logQueryError(duplicate, 'INSERT INTO users …');
    expect(debug).toHaveBeenCalledWith(expect.stringContaining('query failed: duplicate key'));
    expect(warn).not.toHaveBeenCalled();
    const other = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' });
    sut.logQueryError(other, 'SELECT …');
    sut.logQueryError('connection terminated', 'SELECT …');
    expect(warn).toHaveBeenCalledTimes(2);
  });

  it('logs the migration lock wait running out at debug (MigrationLockTimeoutError says it), not as a warning', () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    const sut = new TypeOrmLogAdapter();
    const timedOut = Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' });
    sut.logQueryError(timedOut, MIGRATION_LOCK_WAIT);
    expect(debug).toHaveBeenCalledWith(expect.stringContaining('query failed: canceling statement'));
    expect(warn).not.toHaveBeenCalled();
    // The same error on any other statement is nobody's explanation: still a warning.
    sut.logQueryError(timedOut, 'UPDATE tasks …');
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
