import { randomBytes } from 'node:crypto';
import { looksLikePlaceholder } from './production-policy';

describe('looksLikePlaceholder', () => {
  it.each([
    'CHANGEME0123456789abcdefghijklmnop',
    'changeme-changeme-changeme-changeme',
    'changemechangemechangemechangeme',
    'my-dev-jwt-key-0123456789abcdefghij',
    'Production_Key_9f8e7d6c5b4a_Test',
    'devsecretforlocalusageonlyplease!',
    'supersecret0123456789abcdefghijklmn',
    'MyDevSecretKey2024ForProductionX',
    'DEV_SECRET_KEY_2024_for_prod_use',
  ])('refuses %s', (secret) => expect(looksLikePlaceholder(secret)).toBe(true));

  it.each([
    // Real `openssl rand -base64 32` shapes that hold a placeholder word inside random characters.
    'Kq9dev3Zr+T0pXa8Lm2Nw5Yb7Cc1Vv4Hh6Jj8Gg0=',
    'x8Yt/TEStq2Lk9Pp0Oo1Ii2Uu3Yy4Tt5Rr6Ee7Ww=',
    'secr3tNOT-a-word-7f9a2b4c6d8e0f1a3b5c7d9e',
    // Their leading letters spell "dev" by chance (about 1 in 5 800 outputs).
    'dEV1IIunAQzjAMTn9yeMZTc67h+/qR4ctlGNiuY76Wk=',
    'iukrqXDEVR0ZpaErMkBOzBjGevYT7Mf7pWnZI3+QRQE=',
    // Base64's own characters around a word.
    'DeV/OJoI+IctFteJXfD9Qy6q1v/gOD16Zw52Q2qopuY=',
  ])('accepts a random secret that merely contains a word: %s', (secret) =>
    expect(looksLikePlaceholder(secret)).toBe(false),
  );

  it('accepts random base64 and hex of 32 bytes, whatever their letters spell', () => {
    // The old rule refused 1 in 5 800 base64 values (this fails it 3 runs in 5); this one about 1 in 60 million.
    const refused: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const bytes = randomBytes(32);
      for (const secret of [bytes.toString('base64'), bytes.toString('hex')])
        if (looksLikePlaceholder(secret)) refused.push(secret);
    }
    expect(refused).toEqual([]);
  });
});
