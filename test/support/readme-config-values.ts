import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { CoreVariables } from '../../src/common/config/core.config';
import { declaredRules } from '../../src/common/config/problems';
import { FEATURE_CONFIGS } from '../../src/config/app-config';
import { PRODUCTION_SETTINGS } from './production-settings';
import { configTable, ConfigRow, documentedTierDefaults } from './readme-config';

export { PRODUCTION_SETTINGS };

/** README's configuration table, and its row of each variable. */
export const ROWS = configTable();
export const ROW_OF = new Map<string, ConfigRow>(
  ROWS.flatMap((row) => row.names.map((name) => [name, row] as const)),
);

const cores = availableParallelism();
const packageVersion = (
  JSON.parse(readFileSync(join(__dirname, '../../package.json'), 'utf8')) as { version: string }
).version;

/**
 * Default cells that are not one backticked value, as the value of the variable they stand for; null: no value
 * can be written for it, and a test of its own checks it (readme-config.spec.ts).
 */
const DESCRIBED_DEFAULTS: Record<string, (name: string, env: Record<string, string>) => string | null> = {
  'number of cores': () => String(cores),
  'the cores': () => String(cores),
  'half of `WASM_MAX_CONCURRENCY`, rounded up': (_name, env) =>
    String(Math.ceil(Number(env.WASM_MAX_CONCURRENCY ?? cores) / 2)),
  'from package.json': () => packageVersion,
  '`info` (`warn` in test)': () => 'info',
  'see Rate limits': (name) => {
    const value = documentedTierDefaults()[name];
    if (value === undefined) throw new Error(`${name}: README's "Rate limits" gives no default for it`);
    return value;
  },
  'generated outside production': () => null,
  'cores − 1 (≥ 1)': () => null,
};

/** Default cells that say the variable is unset by default. */
const UNSET = ['—', 'none'];

/**
 * The documented default of `name` as a value of the variable, where the other variables are `env`; undefined:
 * unset; null: see DESCRIBED_DEFAULTS.
 */
export function documentedDefault(name: string, env: Record<string, string> = {}): string | null | undefined {
  const { defaultText } = ROW_OF.get(name)!;
  if (UNSET.includes(defaultText)) return undefined;
  const literal = /^`([^`]+)`$/.exec(defaultText)?.[1];
  // `DATA_DIR/circuits`: below the data directory, wherever that is.
  if (literal !== undefined) return literal.replace(/^DATA_DIR\//, () => `${documentedDefault('DATA_DIR')}/`);
  const described = DESCRIBED_DEFAULTS[defaultText];
  if (!described) throw new Error(`${name}: README's default "${defaultText}" is not one the test can read`);
  return described(name, env);
}

const ADMIN_PAIR = { ADMIN_USERNAME: 'operator', ADMIN_PASSWORD: 'correct horse battery' };

/** Variables a value of `name` needs beside it to be valid at all, each with why. */
const COMPANIONS: Record<string, Record<string, string>> = {
  // Set together or not at all: a sample of one is compared with the pair set otherwise.
  ADMIN_USERNAME: ADMIN_PAIR,
  ADMIN_PASSWORD: ADMIN_PAIR,
  // The offline threshold must exceed the heartbeat interval: each bound of one needs room in the other.
  NODE_HEARTBEAT_INTERVAL_SECS: { NODE_OFFLINE_AFTER_SECS: '86400' },
  NODE_OFFLINE_AFTER_SECS: { NODE_HEARTBEAT_INTERVAL_SECS: '1' },
  // Per-user runs are at most WASM_MAX_CONCURRENCY (refused above it): room for every value of the range.
  WASM_MAX_CONCURRENCY_PER_USER: { WASM_MAX_CONCURRENCY: '256' },
};
export const companions = (name: string): Record<string, string> => COMPANIONS[name] ?? {};

/** A valid value other than the default, for variables whose default is no number. */
const SAMPLES: Record<string, string> = {
  ...PRODUCTION_SETTINGS,
  ENVIRONMENT: 'test',
  HOST: '127.0.0.1',
  DATA_DIR: './elsewhere',
  APP_VERSION: '9.9.9',
  DATABASE_URL: 'postgres://vcp@127.0.0.1:5432/vcp',
  REDIS_URL: 'redis://127.0.0.1:6379/1',
  TRUSTED_PROXY_CIDRS: '10.0.0.0/8',
  METRICS_ALLOWED_CIDRS: '10.0.0.0/8',
  EXPECT_CT_MAX_AGE: '86400',
  ADMIN_USERNAME: 'operator_two',
  ADMIN_PASSWORD: 'another horse battery',
  WASM_ALLOWED_ROOTS: './modules-elsewhere',
  CIRCUIT_STORAGE_DIR: './circuits-elsewhere',
  CONTENT_CACHE_DIR: './cache-elsewhere',
  // `on` runs the embedded node just as `auto` does without DATABASE_URL.
  EMBEDDED_NODE: 'off',
  EMBEDDED_NODE_CONCURRENCY: '1',
  WASM_MAX_CONCURRENCY_PER_USER: '1',
};

const SCHEMAS: (new () => object)[] = [
  CoreVariables,
  ...Object.values(FEATURE_CONFIGS).map((feature) => feature.schema),
];

/** The rules the config schemas declare for `name`, by rule (`min` → [1], `isIn` → [values]). */
export function declaredRulesOf(name: string): Map<string, unknown[]> {
  const rules = new Map<string, unknown[]>();
  for (const schema of SCHEMAS)
    for (const rule of declaredRules(schema))
      if (rule.propertyName === name && rule.name) rules.set(rule.name, rule.constraints ?? []);
  return rules;
}

/** A valid value of `name` other than its default: the next number, another choice, or SAMPLES'. */
export function sampleValue(name: string): string {
  if (name in SAMPLES) return SAMPLES[name];
  const byDefault = documentedDefault(name, companions(name));
  const rules = declaredRulesOf(name);
  const choices = rules.get('isIn')?.[0] as string[] | undefined;
  if (choices) return choices.find((choice) => choice !== byDefault)!;
  if (byDefault && /^\d+$/.test(byDefault)) {
    const max = rules.get('max')?.[0] as number | undefined;
    return String(
      max !== undefined && Number(byDefault) >= max ? Number(byDefault) - 1 : Number(byDefault) + 1,
    );
  }
  throw new Error(`${name}: no sample value: add one to SAMPLES`);
}
