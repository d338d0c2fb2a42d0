import { looksLikePlaceholder } from './production-policy';

describe('looksLikePlaceholder', () => {
  it.each([
    'CHANGEME0123456789abcdefghijklmnop',
    'changeme-changeme-changeme-changeme',
    'changemechangemechangemechangeme',
    'my-dev-jwt-key-0123456789abcdefghij',
    'Production_Key_9f8e7d6c5b4a_Test',
    'devsecretforlocalusageonlyplease!',
  ])('refuses %s', (secret) => expect(looksLikePlaceholder(secret)).toBe(true));

  it.each([
    // Real `openssl rand -base64 32` shapes that hold a placeholder word inside random characters.
    'Kq9dev3Zr+T0pXa8Lm2Nw5Yb7Cc1Vv4Hh6Jj8Gg0=',
    'x8Yt/TEStq2Lk9Pp0Oo1Ii2Uu3Yy4Tt5Rr6Ee7Ww=',
    'secr3tNOT-a-word-7f9a2b4c6d8e0f1a3b5c7d9e',
  ])('accepts a random secret that merely contains a word: %s', (secret) =>
    expect(looksLikePlaceholder(secret)).toBe(false),
  );
});
