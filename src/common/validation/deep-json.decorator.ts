import { ValidateBy, ValidationArguments } from 'class-validator';
import { DEFAULT_DEEP_JSON_LIMITS, DeepJsonLimits, findDeepJsonViolation } from './deep-json';

export const IS_DEEP_JSON = 'isDeepJson';
// class-validator keeps one message per rule and property, but a deep-JSON refusal names a place inside the
// value. The place travels in front of the message, split off again by the validation pipe. A path never
// holds a raw NUL (childPath quotes odd keys with JSON.stringify), so the first one is the separator.
const SEPARATOR = '\u0000';

/**
 * A DTO field holding untrusted JSON within the deep-JSON limits (depth, sizes, no `__proto__`, `constructor`
 * or `prototype` keys). A refusal is detailed as the run route's is: the field is the path of the first
 * violation (`inputs.a[0].constructor`), the message names the rule (`forbidden_key: …`).
 *
 * Behind the global ValidationPipe, `__proto__`, `prototype` and `constructor` keys never reach this check:
 * Nest's pipe deletes them (at any depth) before validating. A route that must refuse them by name reads its
 * body raw and checks it itself (@RawJsonBody in DEVELOPERS.md; RunRequestPipe, CreateTaskPipe).
 */
export function IsDeepJson(limits: DeepJsonLimits = DEFAULT_DEEP_JSON_LIMITS): PropertyDecorator {
  return ValidateBy({
    name: IS_DEEP_JSON,
    validator: {
      validate: (value: unknown, args?: ValidationArguments) =>
        findDeepJsonViolation(value, args?.property ?? '$', limits) === null,
      defaultMessage: (args?: ValidationArguments) => {
        const violation = findDeepJsonViolation(args?.value, args?.property ?? '$', limits);
        return violation ? `${violation.path}${SEPARATOR}${violation.rule}: ${violation.message}` : '';
      },
    },
  });
}

/** Splits an IsDeepJson message into the path inside the property (from the property's name) and the text. */
export function readDeepJsonMessage(message: string): { path: string; text: string } {
  const at = message.indexOf(SEPARATOR);
  return at < 0 ? { path: '', text: message } : { path: message.slice(0, at), text: message.slice(at + 1) };
}
