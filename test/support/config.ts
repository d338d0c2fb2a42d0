import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RATE_TIERS } from '../../src/common/auth/rate-tiers';
import { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { seedEmbeddedDatabase } from './pglite-template';

/**
 * bcrypt cost 4 keeps tests fast (production refuses anything below 10); rate limits are lifted so tests that
 * create many accounts from one address are not throttled (the rate-limit tests set their own).
 */
export const TEST_DEFAULTS: Record<string, string> = {
  ENVIRONMENT: 'test',
  LOG_LEVEL: 'silent',
  BCRYPT_COST: '4',
  // Tests boot the embedded database: without this every app would start an embedded node (tests that want
  // one say EMBEDDED_NODE=auto or on).
  EMBEDDED_NODE: 'off',
  ...Object.fromEntries(
    RATE_TIERS.map((tier) => tier.toUpperCase()).flatMap((tier) => [
      [`RATE_LIMIT_${tier}_RPM`, '1000000'],
      [`RATE_LIMIT_${tier}_BURST`, '100000'],
    ]),
  ),
};

export interface TestConfig {
  config: AppConfig;
  dataDir: string;
  cleanup(): void;
}

/**
 * A config built by the real loader from an explicit environment, with a private temporary DATA_DIR (holding a new,
 * empty embedded database when the config has no DATABASE_URL: see seedEmbeddedDatabase).
 */
export function testConfig(
  env: Record<string, string | undefined> = {},
  /** The PGlite cluster the embedded database is copied from (default: a new, empty one). */
  embeddedTemplate?: string,
): TestConfig {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-test-'));
  const config = loadConfig({
    ...TEST_DEFAULTS,
    DATA_DIR: dataDir,
    // The default root is relative to the working directory: tests would share (and litter) the checkout.
    WASM_ALLOWED_ROOTS: join(dataDir, 'wasm-modules'),
    ...env,
  });
  if (config.database.url === null) seedEmbeddedDatabase(config, embeddedTemplate);
  return { config, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) };
}
