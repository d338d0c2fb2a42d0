import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyPairOf } from '../common/receipts/receipt';
import { DEV_SECRETS_FILE } from '../config/dev-secrets';
import { configProblems } from '../../test/support/config-problems';
import { loadConfig } from '../config/load-config';

const SEED = 'mdxg7/LIAXTrB3rgZu/obbg/dOQ1chnNDwrA4FktBZA=';

describe('RECEIPT_SIGNING_KEY', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-receipts-config-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env }, dataDir).receipts;
  const problemsOf = (env: Record<string, string>) => configProblems(() => load(env));

  it('reads base64 of the 32-byte seed', () => {
    const sut = load({ RECEIPT_SIGNING_KEY: SEED });
    expect(sut.signingKey.asymmetricKeyType).toBe('ed25519');
    expect(sut.publicKeyBase64).toBe(keyPairOf(sut.signingKey).publicKeyBase64);
    // The same seed is the same key: the public key is stable across restarts and replicas.
    expect(load({ RECEIPT_SIGNING_KEY: SEED }).publicKeyBase64).toBe(sut.publicKeyBase64);
  });

  it('reads a PKCS#8 PEM, also with its newlines written as \\n', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const expected = keyPairOf(privateKey).publicKeyBase64;
    expect(load({ RECEIPT_SIGNING_KEY: pem }).publicKeyBase64).toBe(expected);
    expect(load({ RECEIPT_SIGNING_KEY: pem.trim().replace(/\n/g, '\\n') }).publicKeyBase64).toBe(expected);
  });

  it.each([
    ['text that is not a key', 'not-a-key-0123456789abcdefghijk'],
    ['a 31-byte seed', 'mdxg7/LIAXTrB3rgZu/obbg/dOQ1chnNDwrA4FktBQ=='],
    ['base64url instead of base64', 'mdxg7_LIAXTrB3rgZu_obbg_dOQ1chnNDwrA4FktBZA='],
    [
      'a key of another algorithm (P-256)',
      generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    ],
  ])('refuses %s at boot, naming the variable and not its value', (_case, value) => {
    const problems = problemsOf({ RECEIPT_SIGNING_KEY: value });
    expect(problems.join('\n')).toMatch(/^RECEIPT_SIGNING_KEY: /m);
    expect(problems.join('\n')).toContain('base64 of its 32-byte seed');
    const middle = Math.floor(value.length / 2);
    expect(problems.join('\n')).not.toContain(value.slice(middle - 8, middle + 8));
  });

  it('is generated once outside production, kept in DATA_DIR/secrets.json in the seed form, and reused', () => {
    const first = load({});
    const stored = JSON.parse(readFileSync(join(dataDir, DEV_SECRETS_FILE), 'utf8')) as Record<
      string,
      string
    >;
    expect(stored.RECEIPT_SIGNING_KEY).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(load({}).publicKeyBase64).toBe(first.publicKeyBase64);
  });

  it('fails boot on a stored key that is no key', () => {
    load({});
    const file = join(dataDir, DEV_SECRETS_FILE);
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    writeFileSync(file, JSON.stringify({ ...stored, RECEIPT_SIGNING_KEY: 'x'.repeat(40) }));
    expect(problemsOf({}).join('\n')).toMatch(/^RECEIPT_SIGNING_KEY: .*secrets\.json/m);
  });

  it('is required in production', () => {
    expect(problemsOf({ ENVIRONMENT: 'production' })).toContain(
      'RECEIPT_SIGNING_KEY: is required in production',
    );
  });
});
