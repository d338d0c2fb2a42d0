import { ValidateBy, ValidationArguments } from 'class-validator';

/**
 * A number that must not exceed another numeric field of the same body, when both are given (a per-second
 * burst and a per-minute limit). Other rules report a missing or malformed value; this one judges only a pair.
 */
export function AtMostField(other: string, why: string): PropertyDecorator {
  return ValidateBy({
    name: 'atMostField',
    constraints: [other],
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => {
        const bound = (args?.object as Record<string, unknown> | undefined)?.[other];
        return typeof value !== 'number' || typeof bound !== 'number' || value <= bound;
      },
      defaultMessage: () => `$property must be at most ${other}: ${why}`,
    },
  });
}
