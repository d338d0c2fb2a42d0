import { generateApiKey } from '../../api-keys/api-key.format';
import {
  containsApiKey,
  containsCredential,
  isCredentialParamName,
  queryValueHoldsCredential,
} from './credentials-in-url';
import { redactUrl } from '../../logging/logging.module';

describe('credentials in a URL', () => {
  const key = generateApiKey();

  it('recognises a key anywhere in a text, and nothing shorter', () => {
    expect(containsApiKey(key)).toBe(true);
    expect(containsApiKey(`Bearer ${key}, more`)).toBe(true);
    expect(containsApiKey(key.slice(0, -1))).toBe(false);
    expect(containsApiKey('vcp_short')).toBe(false);
  });

  it('recognises a key, a JWT or a refresh token anywhere in a text, and not words that resemble them', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln';
    const refresh = `rt_${'x'.repeat(43)}`;
    for (const text of [key, `Bearer ${jwt}`, `${jwt.slice(0, -4)}`, refresh, `t=${refresh}; more`])
      expect(containsCredential(text)).toBe(true);
    for (const text of ['eyJhbGciOiJIUzI1NiJ9', `export_${'x'.repeat(43)}`, `rt_${'x'.repeat(42)}`, 'vcp_x'])
      expect(containsCredential(text)).toBe(false);
  });

  it('finds a key in strings, arrays and nested values of a parsed query', () => {
    expect(queryValueHoldsCredential({ q: 'fine', list: ['a', key] })).toBe(true);
    expect(queryValueHoldsCredential({ filter: { deep: { er: key } } })).toBe(true);
    expect(queryValueHoldsCredential({ [key]: '' })).toBe(true);
    expect(queryValueHoldsCredential({ q: 'fine', list: ['a', 'b'] })).toBe(false);
  });

  it('names credential parameters whatever the case or array suffix', () => {
    for (const name of ['api_key', 'API_KEY[]', 'x-api-key', 'Token', 'access_token[0]'])
      expect(isCredentialParamName(name)).toBe(true);
    for (const name of ['page', 'keys', 'tokenizer', 'author', 'cursor', 'passage'])
      expect(isCredentialParamName(name)).toBe(false);
  });

  it('names credential parameters in other spellings, and by their suffix', () => {
    const names = ['jwt', 'accessToken', 'auth', 'refresh', 'refreshToken', 'secret', 'client_secret'];
    for (const name of [...names, 'passwd', 'pass', 'id-token', 'userPassword', 'X_ApiKey'])
      expect(isCredentialParamName(name)).toBe(true);
  });

  it('redacts keys from a logged URL by value (also percent-encoded) and by name', () => {
    const encoded = [...key].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('');
    const url = `/x?page=2&innocent=${key}&e=${encoded}&api_key[]=secret&${key}=1&bad=%zz`;
    const logged = redactUrl(url);
    expect(logged).toBe('/x?page=2&innocent=[redacted]&e=[redacted]&api_key[]=[redacted]&[redacted]&bad=%zz');
    expect(logged).not.toContain(key.slice(4, 24));
  });

  it('redacts JWTs and refresh tokens from a logged URL by value, and the widened names', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl';
    const refresh = `rt_${'Q'.repeat(43)}`;
    const url =
      `/x?jwt=${jwt}&auth=Bearer%20${jwt}&refresh=${refresh}&accessToken=a&refreshToken=b` +
      `&secret=c&client_secret=d&passwd=e&pass=f&q=${jwt}&cursor=ok`;
    expect(redactUrl(url)).toBe(
      '/x?jwt=[redacted]&auth=[redacted]&refresh=[redacted]&accessToken=[redacted]&refreshToken=[redacted]' +
        '&secret=[redacted]&client_secret=[redacted]&passwd=[redacted]&pass=[redacted]&q=[redacted]&cursor=ok',
    );
  });
});
