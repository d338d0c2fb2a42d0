import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';

/**
 * Composite decorators for a feature's environment schema (a class whose properties are variable names).
 * Every variable is optional; a blank value counts as unset. The rules' names become the messages of the
 * boot report (see describeProblems), so a schema never needs a message of its own.
 */

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : value;
/** A blank value counts as unset. */
export const emptyToUndefined = ({ value }: { value: unknown }) =>
  typeof value === 'string' && value.trim() === '' ? undefined : value;

/** A whole number from `min` to `max`; any other text stays text and fails `isInt`. */
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

export const ChoiceVariable = (values: readonly string[]) =>
  applyDecorators(Transform(emptyToUndefined), IsOptional(), IsIn(values));

export const UrlVariable = (protocols: string[]) =>
  applyDecorators(
    Transform(emptyToUndefined),
    IsOptional(),
    IsUrl({ protocols, require_tld: false, require_protocol: true }),
  );

export const PatternVariable = (pattern: RegExp) =>
  applyDecorators(Transform(emptyToUndefined), IsOptional(), Matches(pattern));
