import { createPrivateKey, generateKeyPairSync, KeyObject } from 'node:crypto';
import { defineFeatureConfig } from '../common/config/feature-config';
import { ConfigValidationError } from '../common/config/problems';
import { SecretVariable } from '../common/config/variables';
import { keyPairOf } from '../common/receipts/receipt';

export class ReceiptsVariables {
  /** The server's Ed25519 signing key: base64 of the 32-byte seed, or a PKCS#8 PEM. */
  @SecretVariable()
  RECEIPT_SIGNING_KEY?: string;
}

/** Signed task receipts (issue 18): the key the server signs them with. */
export class ReceiptsConfig {
  readonly signingKey!: KeyObject;
  /** Standard base64 of the 32 raw public-key bytes. */
  readonly publicKeyBase64!: string;

  constructor(values: ReceiptsConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

const MALFORMED =
  'RECEIPT_SIGNING_KEY: must be an Ed25519 private key: standard base64 of its 32-byte seed ' +
  '(openssl rand -base64 32) or a PKCS#8 PEM (openssl genpkey -algorithm ed25519)';

/** DER prefix of an Ed25519 PKCS#8 PrivateKeyInfo (RFC 8410): the 32-byte seed follows it. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The key in either accepted form, or null. node:crypto parses it and refuses keys of other algorithms. */
export function parseSigningKey(text: string): KeyObject | null {
  // A PEM pasted into a one-line variable often arrives with literal "\n" sequences.
  const trimmed = text.trim().replace(/\\n/g, '\n');
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      const key = createPrivateKey({ key: trimmed, format: 'pem' });
      return key.asymmetricKeyType === 'ed25519' ? key : null;
    }
    if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) return null;
    const seed = Buffer.from(trimmed, 'base64');
    return createPrivateKey({
      key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
  } catch {
    return null; // the caller reports the variable as malformed, without its value
  }
}

/** A fresh key in the seed form, for development (kept in DATA_DIR/secrets.json like the other secrets). */
export function generateSigningKeyText(): string {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  return der.subarray(ED25519_PKCS8_PREFIX.length).toString('base64');
}

export const receiptsConfig = defineFeatureConfig({
  token: ReceiptsConfig,
  schema: ReceiptsVariables,
  secrets: ['RECEIPT_SIGNING_KEY'],
  generateSecret: generateSigningKeyText,
  check: (env) =>
    env.RECEIPT_SIGNING_KEY !== undefined && parseSigningKey(env.RECEIPT_SIGNING_KEY) === null
      ? [MALFORMED]
      : [],
  build: (_env, { secrets }) => {
    // The variable was checked above; a key that fails here came from an edited DATA_DIR/secrets.json.
    const signingKey = parseSigningKey(secrets.RECEIPT_SIGNING_KEY);
    if (signingKey === null) throw new ConfigValidationError([`${MALFORMED} (in DATA_DIR/secrets.json)`]);
    return new ReceiptsConfig({ signingKey, publicKeyBase64: keyPairOf(signingKey).publicKeyBase64 });
  },
});
