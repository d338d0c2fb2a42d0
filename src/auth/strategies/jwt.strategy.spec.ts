import { createSecretKey } from 'node:crypto';
import type { AuthConfig } from '../auth.config';
import type { UserStatusCache } from '../../users/user-status.cache';
import { JwtStrategy } from './jwt.strategy';

/** The strategy as passport runs it: a copy of the registered instance with fail/success/error attached. */
function attempt(headers: Record<string, string>) {
  const strategy = new JwtStrategy(
    { jwtKey: createSecretKey(Buffer.from('x'.repeat(48))) } as AuthConfig,
    {} as UserStatusCache,
  );
  const outcome = { fail: jest.fn(), success: jest.fn(), error: jest.fn() };
  Object.assign(strategy, outcome);
  strategy.authenticate({ headers }, {});
  return outcome;
}

describe('JwtStrategy.authenticate', () => {
  it('declines a request without an Authorization header at once, without building an Error', () => {
    const { fail, success, error } = attempt({ 'x-api-key': 'vcp_whatever' });
    expect(fail).toHaveBeenCalledWith({ message: 'No auth token' }, 401);
    expect(fail.mock.calls[0][0]).not.toBeInstanceOf(Error);
    expect(success).not.toHaveBeenCalled();
    expect(error).not.toHaveBeenCalled();
  });

  it('still hands a bearer token to passport-jwt, which refuses a bad one', () => {
    const { fail, success } = attempt({ authorization: 'Bearer not.a.jwt' });
    expect(fail).toHaveBeenCalledTimes(1);
    // Negative control of the first case: passport-jwt's own refusal is an Error.
    expect(fail.mock.calls[0][0]).toBeInstanceOf(Error);
    expect(success).not.toHaveBeenCalled();
  });
});
