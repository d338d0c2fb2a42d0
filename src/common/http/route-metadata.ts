import type { ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

type MetadataKey = string | symbol;
type Entries = Map<MetadataKey, unknown>;

const cache = new WeakMap<object, WeakMap<object, Entries>>();

/**
 * `reflector.getAllAndOverride(key, [handler, class])`, read once per handler, class and key and then served
 * from a map: decorator metadata is fixed once the classes are defined, and the guards every request passes
 * read about twenty keys (two Reflect lookups each) per request otherwise.
 */
export function routeMetadata<T>(
  reflector: Reflector,
  key: MetadataKey,
  context: ExecutionContext,
): T | undefined {
  const handler = context.getHandler();
  const classRef = context.getClass();
  let byClass = cache.get(handler);
  if (!byClass) cache.set(handler, (byClass = new WeakMap<object, Entries>()));
  let entries = byClass.get(classRef);
  if (!entries) byClass.set(classRef, (entries = new Map<MetadataKey, unknown>()));
  if (entries.has(key)) return entries.get(key) as T | undefined;
  const value = reflector.getAllAndOverride<T | undefined>(key as string, [handler, classRef]);
  entries.set(key, value);
  return value;
}
