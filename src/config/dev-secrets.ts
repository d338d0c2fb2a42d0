import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SettingsError } from '../common/config/problems';
import { makeDirectories } from '../common/fs/make-directories';
import { writePrivateFile } from '../common/fs/private-file';

export const DEV_SECRETS_FILE = 'secrets.json';

/** A generated secret without a format of its own: 48 random bytes as base64url. */
export const randomSecret = (): string => randomBytes(48).toString('base64url');

/** DATA_DIR/secrets.json cannot be used: the server and the CLI exit 78 with this one line. */
export class DevSecretsError extends SettingsError {}

/** The stored secrets; a damaged file is said as such, never with its content (the parser's message quotes it). */
function storedSecrets(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== undefined)
      throw new DevSecretsError(`DATA_DIR/${DEV_SECRETS_FILE}: cannot read ${file} (${code})`);
    if (!(error instanceof SyntaxError)) throw error;
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
    return parsed as Record<string, unknown>;
  throw new DevSecretsError(
    `DATA_DIR/${DEV_SECRETS_FILE} (${file}) is damaged (not a JSON object): remove it to generate new ` +
      'development secrets — tokens and keys issued with the old ones stop working — or repair it',
  );
}

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
  const stored = existsSync(file) ? storedSecrets(file) : {};
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
  try {
    if (changed) {
      makeDirectories(dataDir, 0o700);
      // Atomically: a crash mid-write would otherwise leave a damaged file, and the next start refused.
      writePrivateFile(file, JSON.stringify(secrets, null, 2) + '\n');
    }
    // Also tighten a file that was created earlier or copied in with looser permissions.
    chmodSync(file, 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined) throw error;
    throw new DevSecretsError(`DATA_DIR: cannot write ${file} (${code}): give a writable DATA_DIR`);
  }
  return secrets;
}
