import { applyDecorators } from '@nestjs/common';
import { IsString, Matches } from 'class-validator';

/** Account names: 3–32 of A–Z a–z 0–9 _ (unique ignoring case; the database index is on lower()). */
export const USERNAME_PATTERN = /^[A-Za-z0-9_]{3,32}$/;

export function isUsername(value: unknown): value is string {
  return typeof value === 'string' && USERNAME_PATTERN.test(value);
}

export function IsUsername(): PropertyDecorator {
  return applyDecorators(
    Matches(USERNAME_PATTERN, { message: '$property must be 3 to 32 characters of A-Z, a-z, 0-9 and _' }),
    IsString(),
  );
}
