import { generateApiKey } from '../api-keys/api-key.format';
import { redactPath } from '../common/auth/credentials-in-url';
import { redactHeaders, redactUrl } from './redaction';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';
const REFRESH = `rt_${'A'.repeat(20)}-${'b'.repeat(22)}`;

describe('redactHeaders (the request log line)', () => {
  it('censors every credential header and keeps the rest as they were', () => {
    const headers = {
      authorization: 'Bearer eyJ.secret.sig',
      'x-api-key': 'vcp_live_secret',
      cookie: 'session=secret',
      token: 'secret',
      'user-agent': 'curl/8',
      'x-request-id': 'abc',
    };
    expect(redactHeaders(headers)).toEqual({
      authorization: '[redacted]',
      'x-api-key': '[redacted]',
      cookie: '[redacted]',
      token: '[redacted]',
      'user-agent': 'curl/8',
      'x-request-id': 'abc',
    });
    // A copy: the request's own headers are untouched (the route still needs them).
    expect(headers.authorization).toBe('Bearer eyJ.secret.sig');
  });

  it('censors headers named like a credential, whatever the client called them', () => {
    const names = [
      'proxy-authorization',
      'x-auth-token',
      'api-key',
      'x-refresh-token',
      'x-client-secret',
      'x-user-password',
      'x-apikey',
      'x-access-key',
      'x-private-key',
      'x-credential',
      'x-session',
      'x-pwd',
    ];
    const logged = redactHeaders(Object.fromEntries(names.map((name) => [name, 'opaque value'])));
    expect(logged).toEqual(Object.fromEntries(names.map((name) => [name, '[redacted]'])));
  });

  it('censors any header whose value holds a key, a JWT or a refresh token', () => {
    const key = generateApiKey();
    const headers = {
      'x-custom': `Bearer ${JWT}`,
      referer: `https://example.test/?k=${key}`,
      'x-forwarded-for-refresh': `rt=${REFRESH}`,
      'set-cookie': ['a=1', `b=${key}`],
    };
    expect(redactHeaders(headers)).toEqual({
      'x-custom': '[redacted]',
      referer: '[redacted]',
      'x-forwarded-for-refresh': '[redacted]',
      'set-cookie': '[redacted]',
    });
  });

  it("censors a value in an authentication scheme's form under any header: another system's token", () => {
    const headers = {
      'x-upstream': 'Bearer opaque-token-of-another-system',
      'x-forwarded-basic': 'basic dXNlcjpwdw==',
    };
    expect(redactHeaders(headers)).toEqual({ 'x-upstream': '[redacted]', 'x-forwarded-basic': '[redacted]' });
  });

  it('keeps ordinary headers that merely look close (negative control)', () => {
    const headers = {
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) eyJ-not-a-token',
      'x-sort': `export_${'a'.repeat(50)}`,
      accept: 'application/json',
      'x-keyboard': 'vcp_short',
      'x-note': 'a bearer of news',
    };
    expect(redactHeaders(headers)).toEqual(headers);
  });
});

describe('redactHeaders (control characters)', () => {
  it('escapes C1 and C0 controls in logged header values, as the audit trail does', () => {
    const headers = { 'user-agent': 'curl\u009b31m\u0085next', 'x-note': ['a\u001bb', 'ok'], accept: '*/*' };
    expect(redactHeaders(headers)).toEqual({
      'user-agent': 'curl\\u009b31m\\u0085next',
      'x-note': ['a\\u001bb', 'ok'],
      accept: '*/*',
    });
  });
});

describe('redactPath and redactUrl (credentials in a path)', () => {
  it('censors each segment that holds a key, a JWT or a refresh token, also percent-encoded', () => {
    const key = generateApiKey();
    const encoded = [...key].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
    expect(redactPath(`/api/v1/api-keys/${key}`)).toBe('/api/v1/api-keys/[redacted]');
    expect(redactPath(`/api/v1/${JWT}/x`)).toBe('/api/v1/[redacted]/x');
    expect(redactPath(`/api/v1/a/${REFRESH}`)).toBe('/api/v1/a/[redacted]');
    expect(redactPath(`/api/v1/keys/${encoded}/rotate`)).toBe('/api/v1/keys/[redacted]/rotate');
    expect(redactUrl(`/api/v1/${key}?page=2&jwt=${JWT}`)).toBe('/api/v1/[redacted]?page=2&jwt=[redacted]');
  });

  it('returns an ordinary path as it was (negative control)', () => {
    for (const path of [
      '/api/v1/tasks/0b6a4f0e-2c1f-4c8e-9d1c-2f7f1d6f5a10',
      '/api/v1/nodes/%zz',
      '/vcp_x/eyJ',
    ])
      expect(redactPath(path)).toBe(path);
  });
});
