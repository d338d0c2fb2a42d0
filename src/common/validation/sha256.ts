import { applyDecorators } from '@nestjs/common';
import { IsString, Matches } from 'class-validator';

/**
 * A SHA-256 as the API spells it: 64 lowercase hex characters. Lowercase only, because ids are compared as
 * text: "ABC…" must not be a second spelling of "abc…".
 */
export const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX_PATTERN.test(value);
}

/** A string field holding a SHA-256; `message` is the pattern's message (the string check keeps its own). */
export function IsSha256Hex(message: string): PropertyDecorator {
  // Applied in this order so a failing value reports the pattern first, as the bare decorators did.
  return applyDecorators(Matches(SHA256_HEX_PATTERN, { message }), IsString());
}
