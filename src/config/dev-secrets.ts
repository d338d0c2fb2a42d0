import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEV_SECRETS_FILE = 'secrets.json';

/** A generated secret without a format of its own: 48 random bytes as base64url. */
export const randomSecret = (): string => randomBytes(48).toString('base64url');

/**
 * Outside production, secrets that are not set are generated once from the CSPRNG and kept in
 * DATA_DIR/secrets.json with mode 0600, so tokens and key hashes survive restarts without anyone having to
 * invent a secret (and without a well-known default secret in the code). `generate` makes each missing one.
 */
export function loadOrCreateDevSecrets(
  dataDir: string,
  names: readonly string[],
  generate: (name: string) => string = randomSecret,
): Record<string, string> {
  const file = join(dataDir, DEV_SECRETS_FILE);
  let stored: Record<string, unknown> = {};
  if (existsSync(file)) {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed && typeof parsed === 'object') stored = parsed as Record<string, unknown>;
  }
  let changed = false;
  const secrets: Record<string, string> = {};
  for (const name of names) {
    const value = stored[name];
    if (typeof value === 'string' && value.length >= 32) {
      secrets[name] = value;
    } else {
      secrets[name] = generate(name);
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
  }
  // Also tighten a file that was created earlier or copied in with looser permissions.
  chmodSync(file, 0o600);
  return secrets;
}
