import type { Type } from '@nestjs/common';
import type { CoreConfig } from './core.config';
import type { DirectoryUse } from './directories';
import type { RawEnvironment } from './problems';

/** What a feature's `build` may use besides its own variables. */
export interface ConfigContext<Secret extends string = string> {
  readonly core: CoreConfig;
  /** Relative paths resolve against this directory. */
  readonly cwd: string;
  readonly raw: RawEnvironment;
  /** The feature's declared secrets: from the environment or, outside production, generated (see `secrets`). */
  readonly secrets: Readonly<Record<Secret, string>>;
}

/**
 * One feature's slice of the environment, in `src/<feature>/<feature>.config.ts`: its variables, the checks
 * that span them and the typed config the feature injects. `src/config/` composes every feature's slice,
 * validates them all before building any (so the boot report lists every problem at once) and adds the
 * production policy.
 */
export interface FeatureConfig<Env extends object, Config, Secret extends string = string> {
  /** The class the feature injects; ConfigModule provides the built instance under it. */
  readonly token: Type<Config>;
  /** The variables, as a class of decorated properties (see variables.ts). */
  readonly schema: new () => Env;
  /**
   * Variables that hold secrets. Outside production a missing one is generated once and kept in
   * DATA_DIR/secrets.json; production never generates, so it requires every one of them.
   */
  readonly secrets?: readonly Secret[];
  /** How a missing secret is generated outside production, when it must have a format (default: random text). */
  generateSecret?(name: Secret): string;
  /** Variables read from the raw environment besides the schema's (generated names), so they count as known. */
  readonly otherVariables?: readonly string[];
  /** Rules the schema cannot state (lists, pairs, generated names): problems name the variable, never the value. */
  check?(env: Env, raw: RawEnvironment): string[];
  /**
   * Directories the feature creates or uses at boot: checked with the variables (directories.ts), so that one
   * that cannot be a directory is a config problem, not a stack trace from the module that creates it.
   */
  directories?(env: Env, context: Omit<ConfigContext, 'secrets'>): DirectoryUse[];
  /** Runs only when no feature reported a problem. */
  build(env: Env, context: ConfigContext<Secret>): Config;
}

/** Infers a feature config's types (and keeps the secret names literal). */
export function defineFeatureConfig<
  Env extends object,
  Config,
  const Secret extends keyof Env & string = never,
>(feature: FeatureConfig<Env, Config, Secret>): FeatureConfig<Env, Config, Secret> {
  return feature;
}
