import { plainToInstance } from 'class-transformer';
import { getMetadataStorage, ValidationError, validateSync } from 'class-validator';
import ipaddr from 'ipaddr.js';

export type RawEnvironment = NodeJS.ProcessEnv;

/** How a process ends when the operator's settings refuse the start (sysexits' EX_CONFIG). */
export const EX_CONFIG = 78;

/**
 * A failure whose message already tells the operator what happened and what to do (a directory in use, a port
 * taken): a failed start says it in one line, and Nest's report of it (with a stack) is left out.
 */
export class ExplainedError extends Error {}

/**
 * A start refused for what only the operator can fix (a variable, a directory, a file in DATA_DIR): the server
 * and the CLIs print its message alone, one line without a stack, and exit EX_CONFIG.
 */
export class SettingsError extends ExplainedError {}

/** Everything wrong with the environment at once (the server exits 78 with this report). */
export class ConfigValidationError extends SettingsError {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigValidationError';
  }
}

const RULE_TEXTS: Record<string, string> = {
  isPostgresUrl:
    'is not a PostgreSQL URL: postgres://user:password@host:port/database, or for a Unix socket ' +
    'postgresql:///database?host=/path/to/socket/directory',
  isRedisUrl:
    'is not a Redis URL: redis://[user:password@]host:port/database (rediss:// for TLS), or for a Unix ' +
    'socket unix:///path/to/redis.sock?db=n',
  matches: 'has characters that are not allowed',
  hasNoWhitespace:
    'must not contain whitespace (a trailing newline from the file it was read from, say): a bearer token ' +
    'holds none, so it could never match',
  isString: 'must be a string',
};

/** Each rule a schema declares: its variable (`propertyName`), its name (`min`) and its constraints ([1]). */
export function declaredRules(schema: new () => object) {
  return getMetadataStorage().getTargetValidationMetadatas(schema, '', true, false);
}

/** The constraints each rule of a schema's variable was declared with (`min` → [1], `isIn` → [values]). */
function rulesOf(schema: new () => object, property: string): Map<string, unknown[]> {
  const rules = new Map<string, unknown[]>();
  for (const rule of declaredRules(schema)) {
    if (rule.propertyName === property && rule.name) rules.set(rule.name, rule.constraints ?? []);
  }
  return rules;
}

/**
 * One problem per variable, naming its rule with the rule's bounds (the operator must not have to look them
 * up), never the value: a misplaced secret must not end up in a deploy log.
 */
function describeRule(schema: new () => object, error: ValidationError): string[] {
  const failed = Object.keys(error.constraints ?? { invalid: '' });
  const rules = rulesOf(schema, error.property);
  const bound = (rule: string) => rules.get(rule)?.[0];
  const texts: string[] = [];
  if (failed.some((rule) => rule === 'isInt' || rule === 'min' || rule === 'max')) {
    const [min, max] = [bound('min') as number | undefined, bound('max') as number | undefined];
    texts.push(
      min !== undefined && max !== undefined
        ? `must be a whole number from ${min} to ${max}`
        : 'must be a whole number',
    );
  }
  if (failed.includes('isIn')) texts.push(`must be one of: ${(bound('isIn') as string[]).join(', ')}`);
  if (failed.includes('minLength')) texts.push(`must be at least ${String(bound('minLength'))} characters`);
  if (failed.includes('maxLength')) texts.push(`must be at most ${String(bound('maxLength'))} characters`);
  for (const rule of failed) {
    if (['isInt', 'min', 'max', 'isIn', 'minLength', 'maxLength'].includes(rule)) continue;
    texts.push(RULE_TEXTS[rule] ?? `fails rule ${rule}`);
  }
  return texts.map((text) => `${error.property}: ${text}`);
}

/** Reads one schema (see variables.ts) from the raw environment; see describeRule for the problems' form. */
export function parseVariables<Env extends object>(
  schema: new () => Env,
  raw: RawEnvironment,
): { env: Env; problems: string[] } {
  const env = plainToInstance(schema, { ...raw }, { excludeExtraneousValues: false });
  const errors: ValidationError[] = validateSync(env, { whitelist: true, forbidUnknownValues: false });
  return { env, problems: errors.flatMap((error) => describeRule(schema, error)) };
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
