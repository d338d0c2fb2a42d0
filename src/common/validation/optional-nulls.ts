import { getMetadataStorage, IS_OPTIONAL, ValidationTypes } from 'class-validator';

const NULL_IS_A_VALUE = Symbol('vcp.nullIsAValue');

/**
 * On an optional field whose `null` is a value of its own (any JSON: a task's inputs, a run's output): the
 * null is kept, not read as the field left out (see withoutOptionalNulls).
 */
export function NullIsAValue(): PropertyDecorator {
  return (target, property) => {
    const inherited =
      (Reflect.getMetadata(NULL_IS_A_VALUE, target.constructor) as Set<string | symbol>) ?? [];
    Reflect.defineMetadata(NULL_IS_A_VALUE, new Set([...inherited, property]), target.constructor);
  };
}

interface NullFields {
  /** Optional fields whose null means absent. */
  optional: string[];
  /** Fields holding nested DTOs (validated with ValidateNested). */
  nested: string[];
}

const fieldsByType = new WeakMap<object, NullFields>();

function fieldsOf(type: new (...args: never[]) => object): NullFields {
  let fields = fieldsByType.get(type);
  if (!fields) {
    const keeps = Reflect.getMetadata(NULL_IS_A_VALUE, type) as Set<string | symbol> | undefined;
    const metadata = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
    const named = (type: string, name?: string) => [
      ...new Set(
        metadata
          .filter((m) => m.type === type && (name === undefined || m.name === name))
          .map((m) => m.propertyName),
      ),
    ];
    fields = {
      optional: named(ValidationTypes.CONDITIONAL_VALIDATION, IS_OPTIONAL).filter((p) => !keeps?.has(p)),
      nested: named(ValidationTypes.NESTED_VALIDATION),
    };
    fieldsByType.set(type, fields);
  }
  return fields;
}

/**
 * Deletes the optional fields sent as `null` from a validated DTO and the DTOs nested in it: `@IsOptional`
 * lets null through as "absent", and generated clients send null for every optional field they leave unset, so
 * a handler must never read it as a value (a null `rpm` reached an INSERT and a CHECK constraint: a 500).
 */
export function withoutOptionalNulls<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const item of value) withoutOptionalNulls(item);
    return value;
  }
  if (value === null || typeof value !== 'object') return value;
  // The prototype's, not the value's: a body may carry a key named "constructor" (refused later, by name).
  const type = (Object.getPrototypeOf(value) as { constructor?: unknown } | null)?.constructor;
  if (typeof type !== 'function' || type === Object) return value;
  const dto = value as Record<string, unknown>;
  const { optional, nested } = fieldsOf(type as new () => object);
  for (const field of optional) if (dto[field] === null) delete dto[field];
  for (const field of nested) withoutOptionalNulls(dto[field]);
  return value;
}
