import { PipeTransform } from '@nestjs/common';
import { AppException } from '../errors/app.exception';
import { refuseAfterOtherParameters } from './pipe-order';
import { RequestHeader } from './request-header';

/** An `Idempotency-Key` header: 1–255 printable ASCII characters (no spaces), as for task submissions. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** The same rule for the OpenAPI document (an ECMA-262 pattern, as JSON Schema's). */
export const IDEMPOTENCY_KEY_SCHEMA = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  pattern: IDEMPOTENCY_KEY_PATTERN.source,
};

/** Why `value`, an Idempotency-Key header as received, is refused; null when it is a key. */
export function idempotencyKeyProblem(value: unknown): string | null {
  if (typeof value === 'string' && IDEMPOTENCY_KEY_PATTERN.test(value)) return null;
  // Node joins a repeated header with ", " (a key holds no space): say so, as for a repeated query parameter.
  const given = typeof value === 'string' ? value.split(', ') : [];
  return given.length > 1 && given.every((part) => IDEMPOTENCY_KEY_PATTERN.test(part))
    ? `Idempotency-Key is given ${given.length} times: give it once`
    : 'Idempotency-Key must be 1–255 printable ASCII characters';
}

/** Absent stays undefined; a malformed key is a 422 naming the header. */
export class IdempotencyKeyPipe implements PipeTransform<unknown, Promise<string | undefined>> {
  async transform(value: unknown): Promise<string | undefined> {
    if (value === undefined) return undefined;
    const problem = idempotencyKeyProblem(value);
    if (problem === null) return value as string;
    return refuseAfterOtherParameters(AppException.invalidField('Idempotency-Key', problem));
  }
}

/** The request's `Idempotency-Key` header, checked (`IdempotencyKeyPipe`). */
export const IdempotencyKey = (): ParameterDecorator =>
  RequestHeader('idempotency-key', new IdempotencyKeyPipe());
