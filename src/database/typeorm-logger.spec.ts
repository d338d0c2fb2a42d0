import { Logger } from '@nestjs/common';
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
});
