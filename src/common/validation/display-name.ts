import { applyDecorators } from '@nestjs/common';
import { IsString, Length, Matches } from 'class-validator';

export const DISPLAY_NAME_MAX_LENGTH = 128;
// Control characters in a name could forge log lines or rewrite a terminal; the name is shown to people.
// An empty name is Length's to report: this rule is only about the characters.
const WITHOUT_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u;

/** 1–128 characters (code points), none of them a control character. */
export function isDisplayName(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    WITHOUT_CONTROL_CHARACTERS.test(value) &&
    [...value].length <= DISPLAY_NAME_MAX_LENGTH
  );
}

/** A name people give a thing (a key, a circuit): each rule reports itself, pattern first. */
export function IsDisplayName(): PropertyDecorator {
  return applyDecorators(
    Matches(WITHOUT_CONTROL_CHARACTERS, { message: '$property must not contain control characters' }),
    Length(1, DISPLAY_NAME_MAX_LENGTH),
    IsString(),
  );
}
