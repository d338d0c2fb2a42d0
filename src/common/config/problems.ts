import { plainToInstance } from 'class-transformer';
import { ValidationError, validateSync } from 'class-validator';
import ipaddr from 'ipaddr.js';

export type RawEnvironment = NodeJS.ProcessEnv;

/** Everything wrong with the environment at once (the server exits 78 with this report). */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

const RULE_TEXTS: Record<string, string> = {
  isInt: 'must be a whole number',
  min: 'is below the allowed minimum',
  max: 'is above the allowed maximum',
  isIn: 'is not one of the allowed values',
  isUrl: 'is not a valid URL of the expected scheme',
  minLength: 'is too short',
  maxLength: 'is too long',
  matches: 'has characters that are not allowed',
  isString: 'must be a string',
};

/**
 * Reads one schema (see variables.ts) from the raw environment. Problems name the variable and the rule, never
 * the value: a misplaced secret must not end up in a deploy log.
 */
export function parseVariables<Env extends object>(
  schema: new () => Env,
  raw: RawEnvironment,
): { env: Env; problems: string[] } {
  const env = plainToInstance(schema, { ...raw }, { excludeExtraneousValues: false });
  const errors: ValidationError[] = validateSync(env, { whitelist: true, forbidUnknownValues: false });
  const problems = errors.flatMap((error) =>
    Object.keys(error.constraints ?? { invalid: '' }).map(
      (rule) => `${error.property}: ${RULE_TEXTS[rule] ?? `fails rule ${rule}`}`,
    ),
  );
  return { env, problems };
}

/**
 * A variable whose name is generated (so no schema property can hold it): unset, or a whole number from 1 to
 * `max`.
 */
export function positiveIntVariable(
  raw: RawEnvironment,
  name: string,
  max: number,
): { value: number | undefined; problem: string | null } {
  const value = raw[name]?.trim();
  if (!value) return { value: undefined, problem: null };
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    return { value: undefined, problem: `${name}: must be a whole number from 1 to ${max}` };
  }
  return { value: Number(value), problem: null };
}

/** Parsed with ipaddr.js (the library behind Fastify's proxy-addr), never by hand. */
export function cidrListProblems(entries: readonly string[], variable: string): string[] {
  const valid = (entry: string) => {
    if (ipaddr.isValid(entry)) return true;
    try {
      ipaddr.parseCIDR(entry);
      return true;
    } catch {
      return false;
    }
  };
  return entries.every(valid)
    ? []
    : [`${variable}: each entry must be an IP address or CIDR such as 10.0.0.0/8`];
}
