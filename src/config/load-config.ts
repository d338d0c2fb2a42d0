import { buildCoreConfig, CoreVariables } from '../common/config/core.config';
import { directoryProblems } from '../common/config/directories';
import type { ConfigContext, FeatureConfig } from '../common/config/feature-config';
import { ConfigValidationError, parseVariables, RawEnvironment } from '../common/config/problems';
import { AppConfig, FEATURE_CONFIGS, FEATURE_KEYS, FeatureKey, FeatureVariables } from './app-config';
import { loadOrCreateDevSecrets, randomSecret } from './dev-secrets';
import { productionProblems } from './production-policy';

type AnyFeatureConfig = FeatureConfig<object, unknown, string>;

const featureConfig = (key: FeatureKey): AnyFeatureConfig => FEATURE_CONFIGS[key];

/** Every declared secret (see FeatureConfig.secrets) with its value from the environment, if any. */
function declaredSecrets(variables: FeatureVariables): Map<string, string | undefined> {
  return new Map(
    FEATURE_KEYS.flatMap((key) =>
      (featureConfig(key).secrets ?? []).map((name): [string, string | undefined] => {
        const value = (variables[key] as Record<string, unknown>)[name];
        return [name, typeof value === 'string' ? value : undefined];
      }),
    ),
  );
}

/** A missing secret, made by its feature's generator if it must have a format (see FeatureConfig.generateSecret). */
function generateSecret(name: string): string {
  const owner = FEATURE_KEYS.map(featureConfig).find((feature) => feature.secrets?.includes(name));
  return owner?.generateSecret?.(name) ?? randomSecret();
}

/**
 * Only what a migration job needs (the core and the database settings): it must not require the app's secrets,
 * CORS or metrics settings to migrate a production database.
 */
export function loadDatabaseSettings(
  raw: RawEnvironment = process.env,
  cwd = process.cwd(),
): Pick<AppConfig, 'core' | 'database'> {
  const coreVariables = parseVariables(CoreVariables, raw);
  const feature = FEATURE_CONFIGS.database;
  const { env, problems } = parseVariables(feature.schema, raw);
  const all = [...coreVariables.problems, ...problems, ...(feature.check?.(env, raw) ?? [])];
  const core = buildCoreConfig(coreVariables.env, cwd);
  // The embedded database lives in DATA_DIR.
  if (!raw.DATABASE_URL?.trim())
    all.push(...directoryProblems([{ variable: 'DATA_DIR', path: core.dataDir, write: true }]));
  if (all.length > 0) throw new ConfigValidationError(all);
  return { core, database: feature.build(env, { core, cwd, raw, secrets: {} }) };
}

/**
 * Reads the environment into the typed AppConfig: every feature's variables are validated before anything is
 * built, so one ConfigValidationError lists all problems (main.ts prints it and exits 78).
 */
export function loadConfig(raw: RawEnvironment = process.env, cwd = process.cwd()): AppConfig {
  const coreVariables = parseVariables(CoreVariables, raw);
  const problems = [...coreVariables.problems];
  const parsed: Partial<Record<FeatureKey, object>> = {};
  for (const key of FEATURE_KEYS) {
    const feature = featureConfig(key);
    const { env, problems: invalid } = parseVariables(feature.schema, raw);
    problems.push(...invalid, ...(feature.check?.(env, raw) ?? []));
    parsed[key] = env;
  }
  const variables = parsed as FeatureVariables;
  const core = buildCoreConfig(coreVariables.env, cwd);
  const secrets = declaredSecrets(variables);
  if (core.isProduction) problems.push(...productionProblems(variables, secrets));
  const missing = [...secrets.values()].some((value) => value === undefined);
  // DATA_DIR holds the embedded database and the generated secrets: unused, it is not required to exist.
  const dataDirUsed = !raw.DATABASE_URL?.trim() || missing;
  problems.push(
    ...directoryProblems([
      ...(dataDirUsed ? [{ variable: 'DATA_DIR', path: core.dataDir, write: true }] : []),
      ...FEATURE_KEYS.flatMap(
        (key) => featureConfig(key).directories?.(variables[key], { core, cwd, raw }) ?? [],
      ),
    ]),
  );
  if (problems.length > 0) throw new ConfigValidationError([...new Set(problems)]);

  const generated = missing ? loadOrCreateDevSecrets(core.dataDir, [...secrets.keys()], generateSecret) : {};
  const secretOf = (name: string): string => secrets.get(name) ?? generated[name];
  const features = Object.fromEntries(
    FEATURE_KEYS.map((key) => {
      const feature = featureConfig(key);
      const context: ConfigContext = {
        core,
        cwd,
        raw,
        secrets: Object.fromEntries((feature.secrets ?? []).map((name) => [name, secretOf(name)])),
      };
      return [key, feature.build(variables[key], context)];
    }),
  ) as Omit<AppConfig, 'core'>;
  return new AppConfig({ core, ...features });
}
