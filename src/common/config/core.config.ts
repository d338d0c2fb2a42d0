import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ChoiceVariable, PatternVariable, TextVariable } from './variables';
import { resolvePath } from './values';

/** What APP_VERSION may be: it is logged on every line and reported by the health endpoint. */
export const APP_VERSION_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export const ENVIRONMENTS = ['development', 'test', 'production'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

/** The variables every feature may depend on. */
export class CoreVariables {
  @ChoiceVariable(ENVIRONMENTS)
  ENVIRONMENT?: Environment;

  @TextVariable()
  NODE_ENV?: string;

  @PatternVariable(APP_VERSION_PATTERN)
  APP_VERSION?: string;

  @TextVariable({ maxLength: 4096 })
  DATA_DIR?: string;
}

/** Settings any feature may inject: where the service runs and where its data lives. */
export class CoreConfig {
  readonly environment!: Environment;
  readonly isProduction!: boolean;
  readonly version!: string;
  readonly dataDir!: string;

  constructor(values: CoreConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

export function buildCoreConfig(env: CoreVariables, cwd: string): CoreConfig {
  const environment =
    env.ENVIRONMENT ??
    (env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development');
  return new CoreConfig({
    environment,
    isProduction: environment === 'production',
    version: env.APP_VERSION ?? packageVersion(),
    dataDir: resolvePath(env.DATA_DIR ?? './data', cwd),
  });
}

export function packageVersion(): string {
  // Walk up from this file: it sits at src/common/config (ts-jest) or dist/src/common/config (built).
  let dir = __dirname;
  for (let depth = 0; depth < 6; depth++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'vcp' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}
