import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { Registry } from 'prom-client';
import { testConfig, TestConfig } from '../../../test/support/config';
import { FakeUsersRepository } from '../../../test/support/fake-users.repository';
import {
  appErrorOf,
  fakeRequest,
  FakeReply,
  FakeRequestInit,
  httpContext,
} from '../../../test/support/guard-context';
import type { ApiKeyAuthService, ApiKeyCheck, ApiKeyFailure } from '../../api-keys/api-key-auth.service';
import { ApiKeyStrategy } from '../../api-keys/api-key.strategy';
import { Authenticated } from '../../common/auth/authenticated.decorator';
import { INVALID_TOKEN_CHALLENGE } from '../../common/auth/challenges';
import { clientAddress } from '../../common/auth/client-address';
import { FailedAuthenticationThrottle } from '../../common/auth/failed-authentication.throttle';
import type { Principal, RequestMeta } from '../../common/auth/principal';
import { Public } from '../../common/auth/public.decorator';
import { ROLE_SCOPES, Scope } from '../../common/auth/scopes';
import { FakeClock } from '../../common/clock/fake-clock';
import { AppException } from '../../common/errors/app.exception';
import { ErrorCode } from '../../common/errors/error-code';
import { VcpMetrics } from '../../metrics/vcp-metrics';
import { UserStatusCache } from '../../users/user-status.cache';
import { AccessTokenService, JWT_ALGORITHM, JWT_AUDIENCE, JWT_ISSUER } from '../access-token.service';
import { JwtStrategy } from '../strategies/jwt.strategy';
import { AuthenticationGuard, KEY_QUERY_PARAMS } from './authentication.guard';

/*
 * The passport part runs for real: the guard's super.canActivate drives passport over the app's own JwtStrategy
 * and ApiKeyStrategy (constructing a PassportStrategy registers it with passport under its name). Fake
 * strategies could signal failure differently from the real ones (passport-jwt *fails* on a bad signature but
 * *errors* when validate() throws), and that difference is exactly what the guard's handleRequest turns into
 * a 401 and an audit row. So only what lies behind the strategies is faked: the user lookup (an in-memory
 * repository under the real UserStatusCache) and the API key lookup.
 */

class FakeApiKeyAuth implements Pick<ApiKeyAuthService, 'authenticate' | 'recordFailure'> {
  readonly keys = new Map<string, ApiKeyCheck>();
  readonly lookups: string[] = [];
  readonly failures: { reason: ApiKeyFailure | 'query_string'; meta: RequestMeta }[] = [];

  authenticate(candidate: string): Promise<ApiKeyCheck> {
    this.lookups.push(candidate);
    return Promise.resolve(this.keys.get(candidate) ?? { ok: false, reason: 'unknown' });
  }

  recordFailure(reason: ApiKeyFailure | 'query_string', meta: RequestMeta): void {
    this.failures.push({ reason, meta });
  }

  asService(): ApiKeyAuthService {
    return this as unknown as ApiKeyAuthService;
  }
}

/** The port as the rate-limit module would implement it, reduced to: count, and refuse past `allowed`. */
class RecordingFailureThrottle extends FailedAuthenticationThrottle {
  readonly clients: (string | null)[] = [];
  allowed = Infinity;

  recordFailure(client: string | null): Promise<void> {
    this.clients.push(client);
    if (this.clients.length > this.allowed) {
      return Promise.reject(
        new AppException(ErrorCode.RateLimited, 'Too many failed authentications; retry later'),
      );
    }
    return Promise.resolve();
  }
}

class ProbeController {
  @Public() health() {}
  @Authenticated() protectedRoute() {}
  undecorated() {}
}

@Public()
class PublicController {
  docs() {}
}

const VALID_KEY = 'vcp_valid_key_for_the_guard_test';
const REVOKED_KEY = 'vcp_revoked_key_for_the_guard_test';

describe('AuthenticationGuard', () => {
  let env: TestConfig;
  let users: FakeUsersRepository;
  let statuses: UserStatusCache;
  let apiKeys: FakeApiKeyAuth;
  let failures: RecordingFailureThrottle;
  let tokens: AccessTokenService;
  let sut: AuthenticationGuard;
  let keyOwner: Principal;

  beforeAll(() => (env = testConfig()));
  afterAll(() => env.cleanup());

  beforeEach(() => {
    users = new FakeUsersRepository();
    statuses = new UserStatusCache(users.asRepository(), new FakeClock());
    apiKeys = new FakeApiKeyAuth();
    new JwtStrategy(env.config.auth, statuses);
    new ApiKeyStrategy(apiKeys.asService());
    failures = new RecordingFailureThrottle();
    tokens = new AccessTokenService(new JwtService(), env.config.auth);
    sut = new AuthenticationGuard(
      new Reflector(),
      apiKeys.asService(),
      failures,
      new VcpMetrics(new Registry()),
    );
    const owner = users.add({ username: 'key-owner' });
    keyOwner = {
      userId: owner.userId,
      username: owner.username,
      role: 'user',
      scopes: [Scope.TasksRead],
      authMethod: 'api_key',
      keyId: '00000000-0000-4000-8000-0000000000aa',
      rateLimitTier: 'general',
    };
    apiKeys.keys.set(VALID_KEY, { ok: true, principal: keyOwner });
    apiKeys.keys.set(REVOKED_KEY, { ok: false, reason: 'revoked' });
  });

  const run = (init: FakeRequestInit, handler: keyof ProbeController = 'protectedRoute') => {
    const request = fakeRequest(init);
    return { request, outcome: sut.canActivate(httpContext(ProbeController, handler, request)) };
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  describe('public routes', () => {
    it('pass without credentials and without touching passport or the throttle', async () => {
      for (const context of [
        httpContext(ProbeController, 'health', fakeRequest()),
        httpContext(PublicController, 'docs', fakeRequest()),
      ]) {
        await expect(sut.canActivate(context)).resolves.toBe(true);
        expect(context.switchToHttp().getRequest<{ user?: Principal }>().user).toBeUndefined();
      }
      expect(failures.clients).toHaveLength(0);
    });

    it('are only the marked ones: an undecorated handler is closed', async () => {
      expect(await appErrorOf(() => run({}, 'undecorated').outcome)).toMatchObject({
        status: 401,
        code: 'unauthorized',
      });
    });
  });

  describe('credentials', () => {
    it('a valid access token sets the principal from the account', async () => {
      const user = users.add({ username: 'alice' });
      const { request, outcome } = run({ headers: bearer(tokens.sign(user.userId, 'user')) });
      await expect(outcome).resolves.toBe(true);
      expect(request.user).toEqual({
        userId: user.userId,
        username: 'alice',
        role: 'user',
        scopes: ROLE_SCOPES.user,
        authMethod: 'jwt',
        accessTokenEpoch: user.accessTokenEpoch,
      });
      expect(failures.clients).toHaveLength(0);
    });

    it('a valid X-API-Key sets the key principal', async () => {
      const { request, outcome } = run({ headers: { 'x-api-key': VALID_KEY } });
      await expect(outcome).resolves.toBe(true);
      expect(request.user).toEqual(keyOwner);
      expect(apiKeys.lookups).toEqual([VALID_KEY]);
    });

    it('a key that is ending announces it on the answer: Sunset, and the successor after a rotation', async () => {
      const ending = 'vcp_ending_key_for_the_guard_test';
      const successor = '00000000-0000-4000-8000-0000000000bb';
      apiKeys.keys.set(ending, {
        ok: true,
        principal: {
          ...keyOwner,
          keySunset: { sunset: 'Wed, 01 Jul 2026 12:00:00 GMT', replacedBy: successor },
        },
      });
      const answerTo = async (headers: Record<string, string>) => {
        const reply = new FakeReply();
        await sut.canActivate(
          httpContext(ProbeController, 'protectedRoute', fakeRequest({ headers }), reply),
        );
        return Object.fromEntries(reply.headers);
      };
      expect(await answerTo({ 'x-api-key': ending })).toEqual({
        Sunset: 'Wed, 01 Jul 2026 12:00:00 GMT',
        'X-API-Key-Replaced-By': successor,
      });
      expect(await answerTo({ 'x-api-key': VALID_KEY })).toEqual({});
    });

    it('no credentials: 401 unauthorized, counted by the failed-authentication throttle', async () => {
      const { request, outcome } = run({});
      expect(await appErrorOf(() => outcome)).toEqual({
        status: 401,
        code: 'unauthorized',
        message: 'Valid credentials are required',
      });
      expect(failures.clients).toEqual([clientAddress(request)]);
    });

    it('an API key sent as a bearer token: 401 that says where a key goes', async () => {
      for (const scheme of ['Bearer', 'bearer']) {
        const { outcome } = run({ headers: { authorization: `${scheme} ${VALID_KEY}` } });
        expect(await appErrorOf(() => outcome)).toEqual({
          status: 401,
          code: 'unauthorized',
          message:
            'An API key goes in the X-API-Key header; Authorization: Bearer takes an access token (POST /api/v1/auth/login)',
        });
      }
      // It is told, not accepted: the key is never looked up from that header.
      expect(apiKeys.lookups).toEqual([]);
      // Another bad bearer token gets the token's answer (negative control).
      const { outcome } = run({ headers: bearer('not-a-token') });
      expect((await appErrorOf(() => outcome)).message).toBe('Invalid or expired access token');
    });

    interface TokenTwist {
      secret?: string;
      exp?: number;
      issuer?: string;
    }
    const EXPIRED =
      'The access token has expired: get a new one with POST /api/v1/auth/refresh, or log in again';
    it.each<[string, TokenTwist, string]>([
      [
        'signed with another secret',
        { secret: 'another-secret-0123456789abcdefghij' },
        'Invalid or expired access token',
      ],
      ['expired', { exp: Math.floor(Date.now() / 1000) - 60 }, EXPIRED],
      ['of another issuer', { issuer: 'someone-else' }, 'Invalid or expired access token'],
    ])(
      'a token %s: 401 unauthorized saying why, with an invalid_token challenge, counted',
      async (_case, twist, message) => {
        const user = users.add({ username: 'mallory' });
        const token = new JwtService().sign(
          { typ: 'access', role: 'user', exp: twist.exp ?? Math.floor(Date.now() / 1000) + 300 },
          {
            secret: twist.secret ?? env.config.auth.jwtSecret,
            algorithm: JWT_ALGORITHM,
            subject: user.userId,
            issuer: twist.issuer ?? JWT_ISSUER,
            audience: JWT_AUDIENCE,
          },
        );
        const { request, outcome } = run({ headers: bearer(token) });
        const refused = await outcome.then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(refused).toBeInstanceOf(AppException);
        const { code, message: said, headers } = refused as AppException;
        expect({ status: (refused as AppException).getStatus(), code, message: said }).toEqual({
          status: 401,
          code: 'unauthorized',
          message,
        });
        expect(headers['WWW-Authenticate']).toBe(INVALID_TOKEN_CHALLENGE);
        expect(failures.clients).toEqual([clientAddress(request)]);
      },
    );

    it('a token whose account was disabled: 401, though the same token passed before', async () => {
      const user = users.add({ username: 'bob' });
      const token = tokens.sign(user.userId, 'user');
      await expect(run({ headers: bearer(token) }).outcome).resolves.toBe(true);
      await users.update(user.userId, { disabled: true });
      statuses.invalidate(user.userId);
      expect(await appErrorOf(() => run({ headers: bearer(token) }).outcome)).toEqual({
        status: 401,
        code: 'unauthorized',
        message: 'Invalid or expired access token',
      });
      expect(failures.clients).toHaveLength(1);
    });

    it('a revoked key: 401, audited with its reason and the request metadata, counted', async () => {
      const { request, outcome } = run({ headers: { 'x-api-key': REVOKED_KEY }, ip: '198.51.100.4' });
      expect(await appErrorOf(() => outcome)).toEqual({
        status: 401,
        code: 'unauthorized',
        message: 'Invalid, expired or revoked API key',
      });
      expect(apiKeys.failures).toEqual([
        {
          reason: 'revoked',
          // No key authenticated the request: a refused key is named by its audit row's reason, not as the actor.
          meta: { ip: '198.51.100.4', userAgent: 'unit-test', requestId: request.id, apiKeyId: null },
        },
      ]);
      expect(failures.clients).toEqual([clientAddress(request)]);
    });
  });

  describe('keys in the query string', () => {
    it.each(KEY_QUERY_PARAMS)(
      '?%s= is refused before any key is looked up, even beside a valid header',
      async (name) => {
        const { outcome } = run({ headers: { 'x-api-key': VALID_KEY }, query: { [name]: VALID_KEY } });
        expect(await appErrorOf(() => outcome)).toEqual({
          status: 401,
          code: 'unauthorized',
          message: 'Credentials are accepted only in headers, never in the URL',
        });
        expect(apiKeys.lookups).toEqual([]);
        expect(apiKeys.failures.map((failure) => failure.reason)).toEqual(['query_string']);
      },
    );

    it.each([
      ['accessToken', 'opaque'],
      ['client_secret', 'opaque'],
      ['Refresh-Token[]', 'opaque'],
      ['id_token', 'opaque'],
    ])('?%s= (a credential name in another spelling) is refused', async (name, value) => {
      const { outcome } = run({ headers: { 'x-api-key': VALID_KEY }, query: { [name]: value } });
      expect(await appErrorOf(() => outcome)).toMatchObject({ status: 401, code: 'unauthorized' });
    });

    it.each([
      ['a JWT', { q: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln' }],
      ['a bearer JWT', { filter: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln' }],
      ['a refresh token', { next: `rt_${'Z'.repeat(43)}` }],
    ])('a query value holding %s is refused on a public route too', async (_shape, query) => {
      const { outcome } = run({ query }, 'health');
      expect(await appErrorOf(() => outcome)).toMatchObject({ status: 401, code: 'unauthorized' });
      expect(apiKeys.failures.map((failure) => failure.reason)).toEqual(['query_string']);
    });

    it('other query parameters do not matter (negative control)', async () => {
      const query = {
        limit: '5',
        cursor: 'abc',
        author: 'x',
        tokenizer: 'y',
        sort: `export_${'a'.repeat(43)}`,
      };
      const { outcome } = run({ headers: { 'x-api-key': VALID_KEY }, query });
      await expect(outcome).resolves.toBe(true);
    });
  });

  describe('the failed-authentication throttle', () => {
    it('its 429 replaces the 401 once the client is over the limit', async () => {
      failures.allowed = 2;
      const answers: number[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        answers.push((await appErrorOf(() => run({ headers: { 'x-api-key': REVOKED_KEY } }).outcome)).status);
      }
      expect(answers).toEqual([401, 401, 429, 429]);
      expect(await appErrorOf(() => run({}).outcome)).toMatchObject({ status: 429, code: 'rate_limited' });
    });

    it('is not consulted when authentication succeeds', async () => {
      failures.allowed = 0;
      await expect(run({ headers: { 'x-api-key': VALID_KEY } }).outcome).resolves.toBe(true);
      expect(failures.clients).toHaveLength(0);
    });
  });
});
