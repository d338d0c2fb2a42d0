import { isClientAbort, isRetryableConflict, isTransientDatabaseError } from './transient-database-error';

describe('isTransientDatabaseError', () => {
  it.each([
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    ],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
    ['a pool out of connections', new Error('timeout exceeded when trying to connect')],
    [
      'a server shutting down (57P01) under TypeORM',
      { message: 'query failed', driverError: { code: '57P01' } },
    ],
    ['a deadlock (40P01)', { driverError: { code: '40P01', message: 'deadlock detected' } }],
    ['a connection exception class 08', { code: '08006' }],
  ])('is true for %s', (_name, error) => expect(isTransientDatabaseError(error)).toBe(true));

  it.each([
    ['a unique violation', { driverError: { code: '23505', message: 'duplicate key value' } }],
    ['a syntax error', { code: '42601', message: 'syntax error at or near' }],
    ['a plain bug', new TypeError('Cannot read properties of undefined')],
    ['nothing', undefined],
    ['a request body the client cut off', Object.assign(new Error('aborted'), { code: 'ECONNRESET' })],
  ])('is false for %s (negative control)', (_name, error) =>
    expect(isTransientDatabaseError(error)).toBe(false),
  );

  it("tells Node's aborted request body from a database socket's reset", () => {
    const aborted = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' });
    expect(isClientAbort(aborted)).toBe(true);
    expect(isClientAbort(reset)).toBe(false);
    expect(isTransientDatabaseError(reset)).toBe(true);
    expect(isClientAbort(undefined)).toBe(false);
  });

  it('calls only deadlocks and serialization failures retryable conflicts', () => {
    expect(isRetryableConflict({ driverError: { code: '40P01' } })).toBe(true);
    expect(isRetryableConflict({ code: '40001' })).toBe(true);
    expect(isRetryableConflict({ code: 'ECONNREFUSED' })).toBe(false);
    expect(isRetryableConflict(null)).toBe(false);
  });
});
