import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { childPath } from './deep-json';

/** Whether a JSON text may hold a key the strict parser refuses; a cheap test before any closer look. */
export const mayNamePrototype = (text: string): boolean =>
  text.includes('proto') || text.includes('constructor') || text.includes('\\u');

/**
 * The path of the first key Fastify's strict JSON parser refuses as prototype poisoning (`__proto__`, or
 * `constructor` holding `prototype`), or null. Iterative, like the deep-JSON check: the text has passed the
 * depth limit, but a wide body must not cost a recursion per node.
 */
function poisonedKeyPath(value: unknown): string | null {
  const stack: { value: unknown; path: string }[] = [{ value, path: '' }];
  while (stack.length > 0) {
    const { value: node, path } = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    const entries: [string | number, unknown][] = Array.isArray(node)
      ? (node as unknown[]).map((item, i) => [i, item])
      : Object.entries(node);
    for (const [key, child] of entries) {
      const at = childPath(path, key);
      if (key === '__proto__') return at;
      if (
        key === 'constructor' &&
        typeof child === 'object' &&
        child !== null &&
        Object.hasOwn(child, 'prototype')
      )
        return childPath(at, 'prototype');
      stack.push({ value: child, path: at });
    }
  }
  return null;
}

/**
 * The 400 for a body the strict parser refused because of a prototype-poisoning key, naming where it is
 * (Fastify's own answer calls such a body "not valid JSON", which sends a client looking for a syntax error);
 * null when the text is not valid JSON at all (then Fastify's answer stands).
 */
export function prototypePoisoningError(text: string): AppException | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const path = poisonedKeyPath(parsed);
  if (path === null) return null;
  return new AppException(
    ErrorCode.BadRequest,
    `The JSON body holds the key ${path}, which is refused (a key that could set an object's prototype)`,
  );
}
