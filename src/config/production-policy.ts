import { splitList } from '../common/config/values';
import type { FeatureVariables } from './app-config';

const PLACEHOLDER_WORDS = ['dev', 'test', 'changeme', 'secret'];
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/**
 * A secret a person typed around a placeholder word: one whose leading letters hold the word ("supersecret…"), has it as a word of its
 * own (between separators or at the end), or holds it with no digit and no capital. A word merely inside a
 * random string is not one: about 1 in 800 outputs of `openssl rand -base64 32` contain "dev" or "test".
 */
export function looksLikePlaceholder(secret: string): boolean {
  const lower = secret.toLowerCase();
  const humanTyped = !/[0-9A-Z]/.test(secret);
  const leadingWord = /^[a-z]+/.exec(lower)?.[0] ?? '';
  return PLACEHOLDER_WORDS.some(
    (word) =>
      leadingWord.includes(word) ||
      new RegExp(`(^|[^a-z0-9])${word}([^a-z0-9]|$)`).test(lower) ||
      (humanTyped && lower.includes(word)),
  );
}

/**
 * Production refuses weak settings outright instead of warning: a warning in a log is read too late.
 * `secrets` are the features' declared secrets with their values: production never generates one (a generated
 * secret lives on one disk only), so each is required.
 */
export function productionProblems(
  variables: FeatureVariables,
  secrets: ReadonlyMap<string, string | undefined>,
): string[] {
  const problems: string[] = [];
  for (const [name, value] of secrets) if (!value) problems.push(`${name}: is required in production`);
  const jwt = variables.auth.JWT_SECRET;
  if (jwt && jwt.length < MIN_PRODUCTION_SECRET_LENGTH)
    problems.push(`JWT_SECRET: must be at least ${MIN_PRODUCTION_SECRET_LENGTH} characters in production`);
  else if (jwt && looksLikePlaceholder(jwt))
    problems.push(
      'JWT_SECRET: looks like a placeholder (contains a word such as "dev", "test", "changeme" or "secret")',
    );
  // Below cost 10 a stolen hash table is cracked too cheaply; tests may go lower to stay fast.
  const cost = variables.auth.BCRYPT_COST;
  if (cost !== undefined && cost < 10) problems.push('BCRYPT_COST: must be at least 10 in production');
  if (splitList(variables.http.CORS_ALLOWED_ORIGINS).length === 0)
    problems.push('CORS_ALLOWED_ORIGINS: is required in production');
  // An open /metrics tells anyone the routes, the traffic and the failure rates.
  const { METRICS_TOKEN, METRICS_ALLOWED_CIDRS } = variables.metrics;
  if (!METRICS_TOKEN && splitList(METRICS_ALLOWED_CIDRS).length === 0)
    problems.push('METRICS_TOKEN: METRICS_TOKEN or METRICS_ALLOWED_CIDRS is required in production');
  return problems;
}
