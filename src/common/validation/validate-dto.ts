import { Type } from '@nestjs/common';
import { createValidationPipe } from './validation.pipe';

const dtoValidation = createValidationPipe();

/**
 * Validates a body against a DTO exactly as the global pipe does (same options, same 422), for a pipe that
 * refines the body further: its handler's parameter has the refined type, so the global pipe skips it.
 */
export async function validateDto<T extends object>(dto: Type<T>, value: unknown): Promise<T> {
  return (await dtoValidation.transform(value, { type: 'body', metatype: dto })) as T;
}
