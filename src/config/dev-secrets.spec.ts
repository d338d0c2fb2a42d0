import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SettingsError } from '../common/config/problems';
import { DEV_SECRETS_FILE, loadOrCreateDevSecrets } from './dev-secrets';

describe('loadOrCreateDevSecrets', () => {
  let dataDir: string;
  let file: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vcp-dev-secrets-'));
    file = join(dataDir, DEV_SECRETS_FILE);
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it.each([['{"JWT_SECRET": "abc'], ['not json at all'], ['["JWT_SECRET"]'], ['null']])(
    'refuses a damaged file (%s) with one line naming it and the way out, never its content',
    (content) => {
      writeFileSync(file, content);
      let error: unknown;
      try {
        loadOrCreateDevSecrets(dataDir, ['JWT_SECRET']);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(SettingsError);
      const message = (error as Error).message;
      expect(message).toBe(
        `DATA_DIR/secrets.json (${file}) is damaged (not a JSON object): remove it to generate new development ` +
          'secrets — tokens and keys issued with the old ones stop working — or repair it',
      );
      // Left as it is: the operator decides between repairing and starting over.
      expect(readFileSync(file, 'utf8')).toBe(content);
    },
  );

  it('replaces the file by rename, mode 0600, leaving no temp file (a crash mid-write keeps the old one whole)', () => {
    writeFileSync(file, '{"JWT_SECRET": "too short"}', { mode: 0o644 });
    const before = statSync(file).ino;
    const secrets = loadOrCreateDevSecrets(dataDir, ['JWT_SECRET']);
    expect(statSync(file).ino).not.toBe(before);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(secrets);
    expect(readdirSync(dataDir)).toEqual([DEV_SECRETS_FILE]);
  });
});
