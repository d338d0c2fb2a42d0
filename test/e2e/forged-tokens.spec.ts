import { createHmac, generateKeyPairSync, sign as rsaSign } from 'node:crypto';
import { JWT_AUDIENCE, JWT_ISSUER } from '../../src/auth/access-token.service';
import { CREDENTIALS_CHALLENGE, INVALID_TOKEN_CHALLENGE } from '../../src/common/auth/challenges';
import { useTestApp } from '../support/app';
import { newSession, Session } from '../support/auth';

const b64 = (value: object | string) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function hmacJwt(header: object, payload: object, secret: string | Buffer, hash = 'sha256'): string {
  const body = `${b64(header)}.${b64(payload)}`;
  return `${body}.${createHmac(hash, secret).update(body).digest('base64url')}`;
}

/** Every way we know to forge or misuse a bearer token is answered 401. */
describe('forged and misused access tokens', () => {
  const ctx = useTestApp();
  let session: Session;
  let secret: string;

  beforeAll(async () => {
    session = await newSession(ctx.app);
    secret = ctx.env.config.auth.jwtSecret;
  });

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (overrides: Record<string, unknown> = {}) => ({
    sub: session.userId,
    typ: 'access',
    role: 'admin',
    iss: JWT_ISSUER,
    aud: JWT_AUDIENCE,
    iat: now(),
    exp: now() + 600,
    jti: 'forged',
    ...overrides,
  });
  const me = (token: string) =>
    ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });

  it('accepts a correctly signed token (the control case: the forgeries below fail for their flaw alone)', async () => {
    const res = await me(hmacJwt({ alg: 'HS256', typ: 'JWT' }, claims({ role: 'user' }), secret));
    expect(res.statusCode).toBe(200);
    // The role comes from the account, never from the token: a token claiming admin gets the user's role.
    const elevated = await me(hmacJwt({ alg: 'HS256', typ: 'JWT' }, claims({ role: 'admin' }), secret));
    expect(elevated.json().role).toBe('user');
  });

  const cases: [string, () => string][] = [
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    ['alg none with a signature', () => `${b64({ alg: 'none' })}.${b64(claims())}.${b64('sig')}`],
    ['HS512 with the right secret', () => hmacJwt({ alg: 'HS512', typ: 'JWT' }, claims(), secret, 'sha512')],
    [
      'RS256 signed with a private key',
      () => {
        const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const body = `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(claims())}`;
        return `${body}.${rsaSign('sha256', Buffer.from(body), privateKey).toString('base64url')}`;
      },
    ],
    [
      'RS256 header with a public key used as HMAC secret (key confusion)',
      () => {
        const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const pem = publicKey.export({ type: 'spki', format: 'pem' });
        return hmacJwt({ alg: 'RS256', typ: 'JWT' }, claims(), pem);
      },
    ],
    ['the wrong secret', () => hmacJwt({ alg: 'HS256' }, claims(), 'not-the-secret-at-all-0123456789ab')],
    ['expired', () => hmacJwt({ alg: 'HS256' }, claims({ iat: now() - 1000, exp: now() - 10 }), secret)],
    ['no exp at all', () => hmacJwt({ alg: 'HS256' }, { ...claims(), exp: undefined }, secret)],
    ['not valid yet (future nbf)', () => hmacJwt({ alg: 'HS256' }, claims({ nbf: now() + 3600 }), secret)],
    ['wrong audience', () => hmacJwt({ alg: 'HS256' }, claims({ aud: 'someone-else' }), secret)],
    ['no audience', () => hmacJwt({ alg: 'HS256' }, { ...claims(), aud: undefined }, secret)],
    ['wrong issuer', () => hmacJwt({ alg: 'HS256' }, claims({ iss: 'evil' }), secret)],
    ['wrong typ (not an access token)', () => hmacJwt({ alg: 'HS256' }, claims({ typ: 'refresh' }), secret)],
    [
      'a subject that is not a UUID',
      () => hmacJwt({ alg: 'HS256' }, claims({ sub: "1' OR '1'='1" }), secret),
    ],
    [
      'a subject that does not exist',
      () => hmacJwt({ alg: 'HS256' }, claims({ sub: '00000000-0000-4000-8000-000000000000' }), secret),
    ],
    [
      'a tampered payload (role changed after signing)',
      () => {
        const [header, , signature] = hmacJwt({ alg: 'HS256' }, claims({ role: 'user' }), secret).split('.');
        return `${header}.${b64(claims({ role: 'admin', sub: session.userId }))}.${signature}`;
      },
    ],
    ['the refresh token as a bearer token', () => session.refreshToken],
    ['an API key as a bearer token', () => 'vcp_0123456789abcdefghijABCDEFGHIJ0123456789abcdef'],
    ['garbage', () => 'not.a.jwt'],
    ['empty', () => ''],
  ];

  it.each(cases)('rejects %s with 401', async (name, forge) => {
    const res = await me(forge());
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({
      error: 'unauthorized',
      message: expect.any(String),
      request_id: expect.any(String),
    });
    // RFC 6750: a token that was sent and refused is `invalid_token`; no token at all is a plain challenge.
    const challenge = name === 'empty' ? CREDENTIALS_CHALLENGE : INVALID_TOKEN_CHALLENGE;
    expect(res.headers['www-authenticate']).toBe(challenge);
    // Only a token of ours that ran out says so; a forged one never learns more than "invalid".
    const expired = /^The access token has expired/.test(res.json<{ message: string }>().message);
    expect({ name, expired }).toEqual({ name, expired: name === 'expired' });
  });

  it('does not say "expired" for an expired token signed with another secret (negative control)', async () => {
    const forged = hmacJwt(
      { alg: 'HS256' },
      claims({ exp: now() - 10 }),
      'not-the-secret-at-all-0123456789ab',
    );
    expect((await me(forged)).json()).toMatchObject({ message: 'Invalid or expired access token' });
  });

  it.each([
    ['no Authorization header', {}],
    ['a Basic scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a lowercase bearer with nothing after', { authorization: 'bearer' }],
  ])('rejects %s with 401', async (_case, headers: Record<string, string>) => {
    const res = await ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe(CREDENTIALS_CHALLENGE);
  });
});
