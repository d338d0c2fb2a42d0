import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';

export interface TestConfig {
  config: AppConfig;
  dataDir: string;
  cleanup(): void;
}

/** A config built by the real loader from an explicit environment, with a private temporary DATA_DIR. */
export function testConfig(env: Record<string, string | undefined> = {}): TestConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-test-'));
  // bcrypt cost 4 keeps tests fast; production refuses anything below 10.
  const config = loadConfig({
    ENVIRONMENT: 'test',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    BCRYPT_COST: '4',
    ...env,
  });
  return { config, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}
