import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
} from 'class-validator';

/**
 * Composite decorators for a feature's environment schema (a class whose properties are variable names).
 * Every variable is optional; a blank value counts as unset. The rules' names become the messages of the
 * boot report (see describeProblems), so a schema never needs a message of its own.
 */

/** A blank value counts as unset. */
export const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim())
    ? Number(value.trim())
    : emptyToUndefined({ value });

/** A whole number from `min` to `max`, or blank (unset); any other text stays text and fails `isInt`. */
export const IntVariable = (min: number, max: number) =>
  applyDecorators(Transform(toInt), IsOptional(), IsInt(), Min(min), Max(max));

export const TextVariable = ({ minLength, maxLength }: { minLength?: number; maxLength?: number } = {}) =>
  applyDecorators(
    Transform(emptyToUndefined),
    IsOptional(),
    IsString(),
    ...(minLength === undefined ? [] : [MinLength(minLength)]),
    ...(maxLength === undefined ? [] : [MaxLength(maxLength)]),
  );

/**
 * A key, pepper or token: at least 16 characters everywhere. Production asks more of some (length and
 * placeholder words: config/production-policy.ts).
 */
export const SecretVariable = () => TextVariable({ minLength: 16, maxLength: 512 });

/**
 * A secret a client sends back as it is (a bearer token): whitespace could never match what arrives in the header,
 * and is most often the newline at the end of the file the value was read from.
 */
export const TokenVariable = () =>
  applyDecorators(
    SecretVariable(),
    ValidateBy({
      name: 'hasNoWhitespace',
      validator: { validate: (value: unknown) => typeof value === 'string' && !/\s/.test(value) },
    }),
  );

export const ChoiceVariable = (values: readonly string[]) =>
  applyDecorators(Transform(emptyToUndefined), IsOptional(), IsIn(values));

/**
 * A value `accepts` must take (a URL read as its driver reads it, say). `rule` names the rule, and its message in
 * RULE_TEXTS (common/config/problems.ts).
 */
export const ParsedVariable = (rule: string, accepts: (raw: string) => boolean) =>
  applyDecorators(
    Transform(emptyToUndefined),
    IsOptional(),
    ValidateBy({
      name: rule,
      validator: { validate: (value: unknown) => typeof value === 'string' && accepts(value) },
    }),
  );

/**
 * `raw` as a WHATWG URL, also when it has credentials and no host (`scheme://user:password@/path`), a form that
 * node-postgres (Unix sockets, Cloud SQL) and redis-py take but WHATWG refuses: it is read over a placeholder
 * host, and `hostless` says so. Throws as `new URL` does on anything else.
 */
export function urlAllowingNoHost(raw: string): { url: URL; hostless: boolean } {
  try {
    return { url: new URL(raw), hostless: false };
  } catch {
    return { url: new URL(raw.replace('@/', '@placeholder/')), hostless: true };
  }
}

export const PatternVariable = (pattern: RegExp) =>
  applyDecorators(Transform(emptyToUndefined), IsOptional(), Matches(pattern));
