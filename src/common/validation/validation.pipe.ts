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

/** The global pipe: class-validator's, then an optional field sent as null is taken as left out. */
class ApiValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    return withoutOptionalNulls(await super.transform(value, metadata));
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
