import { AppException, FieldError } from '../errors/app.exception';

/** The limits of an untrusted JSON value (the task `inputs` of the original service). */
export interface DeepJsonLimits {
  /** Nesting of arrays/objects; a scalar is depth 0, `{}` and `[]` are depth 1. */
  maxDepth: number;
  maxArrayItems: number;
  maxObjectKeys: number;
  maxKeyLength: number;
  maxStringLength: number;
}

export const DEFAULT_DEEP_JSON_LIMITS: DeepJsonLimits = Object.freeze({
  maxDepth: 16,
  maxArrayItems: 1000,
  maxObjectKeys: 1000,
  maxKeyLength: 256,
  maxStringLength: 10_000,
});

export type DeepJsonRule =
  | 'max_depth'
  | 'max_array_items'
  | 'max_object_keys'
  | 'max_key_length'
  | 'max_string_length'
  | 'forbidden_key'
  | 'not_json';

export interface DeepJsonViolation {
  rule: DeepJsonRule;
  /** JSONPath-like location, e.g. `inputs.items[3].name`. */
  path: string;
  message: string;
}

// Keys that reach Object.prototype when a consumer merges or assigns the value naively (prototype pollution).
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** `parent.key`, `parent["odd key"]` or `parent[3]`; an empty parent gives `key` (a top-level body field). */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (!/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/**
 * Finds the first rule a JSON value breaks, or null. Iterative with an explicit stack, and it stops
 * descending as soon as the depth limit is passed, so a 100 000-level value costs 17 steps, never a stack
 * overflow. Non-JSON values (undefined, functions, non-finite numbers, class instances) break `not_json`.
 * The values at `skipPaths` (paths as reported, e.g. `inputs`) are not looked into: a caller that checked them
 * under other limits already. Their keys are still checked in their parent.
 */
export function findDeepJsonViolation(
  value: unknown,
  root = '$',
  limits: DeepJsonLimits = DEFAULT_DEEP_JSON_LIMITS,
  skipPaths?: ReadonlySet<string>,
): DeepJsonViolation | null {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  const fail = (rule: DeepJsonRule, path: string, message: string) => ({ rule, path, message });
  while (stack.length > 0) {
    const { value: node, path, depth } = stack.pop()!;
    if (skipPaths?.has(path)) continue;
    if (node === null || typeof node === 'boolean') continue;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) return fail('not_json', path, 'is not a finite number');
      continue;
    }
    if (typeof node === 'string') {
      if (node.length > limits.maxStringLength) {
        return fail(
          'max_string_length',
          path,
          `string is longer than ${limits.maxStringLength} characters (UTF-16 units: an emoji counts two)`,
        );
      }
      continue;
    }
    if (typeof node !== 'object') return fail('not_json', path, 'is not a JSON value');
    if (depth + 1 > limits.maxDepth) {
      return fail('max_depth', path, `nesting is deeper than ${limits.maxDepth} levels`);
    }
    if (Array.isArray(node)) {
      if (node.length > limits.maxArrayItems) {
        return fail('max_array_items', path, `array has more than ${limits.maxArrayItems} items`);
      }
      // Pushed in reverse so the first violation reported is the first in document order.
      for (let i = node.length - 1; i >= 0; i--) {
        stack.push({ value: node[i], path: childPath(path, i), depth: depth + 1 });
      }
      continue;
    }
    const proto = Object.getPrototypeOf(node) as unknown;
    if (proto !== Object.prototype && proto !== null) return fail('not_json', path, 'is not a plain object');
    const keys = Object.keys(node);
    if (keys.length > limits.maxObjectKeys) {
      return fail('max_object_keys', path, `object has more than ${limits.maxObjectKeys} keys`);
    }
    for (const key of keys) {
      if (key.length > limits.maxKeyLength) {
        return fail('max_key_length', path, `a key is longer than ${limits.maxKeyLength} characters`);
      }
      if (FORBIDDEN_KEYS.has(key))
        return fail('forbidden_key', childPath(path, key), `key "${key}" is not allowed`);
    }
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      stack.push({
        value: (node as Record<string, unknown>)[key],
        path: childPath(path, key),
        depth: depth + 1,
      });
    }
  }
  return null;
}

/** The first violation as a 422 detail: the field is its path (`inputs.a[0]`), the message names the rule. */
export function deepJsonFieldError(
  value: unknown,
  field: string,
  limits: DeepJsonLimits = DEFAULT_DEEP_JSON_LIMITS,
  skipPaths?: ReadonlySet<string>,
): FieldError | null {
  const violation = findDeepJsonViolation(value, field, limits, skipPaths);
  return violation ? { field: violation.path, message: `${violation.rule}: ${violation.message}` } : null;
}

/** Throws a 422 `validation_error` whose detail names the rule and the path of the first violation. */
export function assertDeepJson(
  value: unknown,
  field: string,
  limits: DeepJsonLimits = DEFAULT_DEEP_JSON_LIMITS,
): void {
  const problem = deepJsonFieldError(value, field, limits);
  if (problem) throw AppException.validation([problem]);
}
