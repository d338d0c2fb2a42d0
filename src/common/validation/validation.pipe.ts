import { ArgumentMetadata, ValidationError, ValidationPipe } from '@nestjs/common';
import { AppException, FieldError } from '../errors/app.exception';
import { IS_DEEP_JSON, readDeepJsonMessage } from './deep-json.decorator';
import { withoutOptionalNulls } from './optional-nulls';

/** The message of a field (of a body or a query) the request may not have. */
export const UNKNOWN_FIELD_MESSAGE = 'is not an allowed field';

function fieldError(rule: string, message: string, parent: string, field: string): FieldError {
  // A rejected unknown property is reported as such, not as "property x should not exist".
  if (rule === 'whitelistValidation') return { field, message: UNKNOWN_FIELD_MESSAGE };
  if (rule === IS_DEEP_JSON) {
    const { path, text } = readDeepJsonMessage(message);
    return { field: parent ? `${parent}.${path}` : path, message: text };
  }
  return { field, message };
}

/** class-validator's type checks (its constraint names). */
const TYPE_RULES = new Set(['isInt', 'isNumber', 'isString', 'isBoolean', 'isArray', 'isObject']);

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    // A missing field is one plain message, not every rule its absent value fails ("must not be less than 1", …).
    if (error.value === undefined && error.constraints)
      return [{ field, message: `${error.property} is required` }];
    const constraints = Object.entries(error.constraints ?? {});
    // A value of the wrong type gets its type's message alone, not also every range or size rule it fails
    // ("10" for an integer is not also "must not be greater than 86400").
    const wrongType = constraints.filter(([rule]) => TYPE_RULES.has(rule));
    const own = (wrongType.length > 0 ? wrongType : constraints).map(([rule, message]) =>
      fieldError(rule, message, parent, field),
    );
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/**
 * A query parameter given more than once (`?status=completed&status=failed`) arrives as an array, which every
 * query field refuses with its type's message ("must be one of …" for two values that each are): the refusal
 * says what is wrong instead. No query field takes a list.
 */
function namingRepeatedParameters(error: unknown, query: unknown): unknown {
  if (!(error instanceof AppException) || typeof query !== 'object' || query === null) return error;
  const details = error.extra.details as FieldError[] | undefined;
  const given = query as Record<string, unknown>;
  const repeated = (field: string) => Object.hasOwn(given, field) && Array.isArray(given[field]);
  if (!details?.some((detail) => repeated(detail.field))) return error;
  const named = new Set<string>();
  return AppException.validation(
    details.flatMap((detail) => {
      if (detail.message === UNKNOWN_FIELD_MESSAGE || !repeated(detail.field)) return [detail];
      if (named.has(detail.field)) return [];
      named.add(detail.field);
      const times = (given[detail.field] as unknown[]).length;
      return [{ field: detail.field, message: `${detail.field} is given ${times} times: give it once` }];
    }),
  );
}

/** The global pipe: class-validator's, then an optional field sent as null is taken as left out. */
class ApiValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    // An array or a scalar body would otherwise be validated as an object: `[{…}]` got "0: is not an allowed
    // field" and every required field named as missing, though the client had sent them (inside the array).
    const notAnObject = value === null || typeof value !== 'object' || Array.isArray(value);
    if (metadata.type === 'body' && value !== undefined && notAnObject && this.toValidate(metadata)) {
      throw AppException.validation([{ field: 'body', message: 'must be a JSON object' }]);
    }
    try {
      return withoutOptionalNulls(await super.transform(value, metadata));
    } catch (error) {
      throw metadata.type === 'query' ? namingRepeatedParameters(error, value) : error;
    }
  }
}

/**
 * Strips nothing silently: unknown fields are rejected (forbidNonWhitelisted), so a typo in a request is a
 * 422 the caller can see instead of a field that quietly does nothing. An optional field sent as `null` is
 * the field left out (withoutOptionalNulls), except where null is a value (NullIsAValue).
 */
export function createValidationPipe(): ValidationPipe {
  return new ApiValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // The value is read only to tell a missing field from a wrong one; it never reaches the answer.
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => AppException.validation(flatten(errors)),
  });
}
