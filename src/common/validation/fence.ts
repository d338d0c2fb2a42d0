import { ValidateBy, ValidationOptions } from 'class-validator';

const DECIMAL = /^[1-9][0-9]{0,18}$/;
/** fence is a PostgreSQL bigint: a larger decimal used to reach SQL and fail there (a 500). */
const MAX_BIGINT = 9_223_372_036_854_775_807n;

export function isFence(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value) && BigInt(value) <= MAX_BIGINT;
}

/** A lease's fence as the server hands it out: a positive decimal string within bigint. */
export function IsFence(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isFence',
      validator: {
        validate: isFence,
        defaultMessage: () => 'fence must be the decimal fence of the lease',
      },
    },
    options,
  );
}
