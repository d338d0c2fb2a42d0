import { splitList } from '../common/config/values';
import type { FeatureVariables } from './app-config';

const PLACEHOLDER_WORDS = ['dev', 'test', 'changeme', 'secret'];
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/**
 * A secret a person typed around a placeholder word: one whose leading letters hold the word ("supersecret…",
 * "MyDevKey…"), has it as a word of its own (between separators or at the end), or holds it with no digit and no
 * capital. A word merely inside a random string is not one: about 1 in 800 outputs of `openssl rand -base64 32`
 * contain "dev" or "test", 1 in 5 800 in their leading letters ("dEV1II…").
 */
export function looksLikePlaceholder(secret: string): boolean {
  const lower = secret.toLowerCase();
  const humanTyped = !/[0-9A-Z]/.test(secret);
  const leadingWord = typedLeadingLetters(secret);
  // `+`, `/` and `=` are base64's own characters, so they separate no words.
  return PLACEHOLDER_WORDS.some(
    (word) =>
      leadingWord.includes(word) ||
      new RegExp(`(^|[^a-z0-9+/=])${word}([^a-z0-9+/=]|$)`).test(lower) ||
      (humanTyped && lower.includes(word)),
  );
}

/**
 * The leading letters, lower-cased, when a person would have typed them (one case, or capitalised words) in a
 * secret that does not read as random output; else ''. Random leading letters spell "dev" far too often.
 */
function typedLeadingLetters(secret: string): string {
  const letters = /^[A-Za-z]*/.exec(secret)![0];
  const typed = /^[a-z]*(?:[A-Z][a-z]+)*$|^[A-Z]+$/.test(letters);
  return typed && !readsAsRandom(secret) ? letters.toLowerCase() : '';
}

/**
 * Output of `openssl rand -base64 32` or `-hex 32` (or base64url): one of those alphabets and, for base64, digits,
 * lower case and a capital not followed by lower case (a typed phrase capitalises words: "MyDevKey…"), with no
 * run such as "0123" or "abcd". A random base64 secret of 32 bytes fails this about once in 1 200.
 */
function readsAsRandom(secret: string): boolean {
  if (secret.length < MIN_PRODUCTION_SECRET_LENGTH) return false;
  if (/^(?:[0-9a-f]+|[0-9A-F]+)$/.test(secret)) return true;
  if (!/^(?:[A-Za-z0-9+/]+={0,2}|[A-Za-z0-9_-]+)$/.test(secret)) return false;
  return (
    /[0-9]/.test(secret) && /[a-z]/.test(secret) && /[A-Z][^a-z]/.test(secret) && !hasCountingRun(secret)
  );
}

/** Four characters in a row that count up in one class: "0123", "abcd", "WXYZ". */
function hasCountingRun(secret: string): boolean {
  for (let i = 0; i + 3 < secret.length; i++) {
    const four = secret.slice(i, i + 4);
    const counts = [1, 2, 3].every((k) => four.charCodeAt(k) === four.charCodeAt(0) + k);
    if (counts && /^(?:[0-9]{4}|[a-z]{4}|[A-Z]{4})$/.test(four)) return true;
  }
  return false;
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
