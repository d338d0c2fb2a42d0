import { AppException } from '../errors/app.exception';
import { assertDeepJson, DEFAULT_DEEP_JSON_LIMITS, findDeepJsonViolation } from './deep-json';

const L = DEFAULT_DEEP_JSON_LIMITS;

/** `n` nested arrays around a scalar: depth n. */
function nested(n: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < n; i++) value = [value];
  return value;
}

function objectWithKeys(n: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
}

describe('findDeepJsonViolation', () => {
  it('accepts ordinary JSON', () => {
    expect(findDeepJsonViolation({ a: [1, 'x', null, true, { b: 2.5 }], c: {} })).toBeNull();
  });

  it.each([
    ['depth', (n: number) => nested(n), L.maxDepth, 'max_depth'],
    ['array items', (n: number) => ({ list: Array(n).fill(0) }), L.maxArrayItems, 'max_array_items'],
    ['object keys', (n: number) => ({ o: objectWithKeys(n) }), L.maxObjectKeys, 'max_object_keys'],
    ['key length', (n: number) => ({ ['k'.repeat(n)]: 1 }), L.maxKeyLength, 'max_key_length'],
    ['string length', (n: number) => ({ s: 'x'.repeat(n) }), L.maxStringLength, 'max_string_length'],
  ] as const)('%s: accepts limit − 1 and limit, refuses limit + 1', (_name, build, limit, rule) => {
    expect(findDeepJsonViolation(build(limit - 1))).toBeNull();
    expect(findDeepJsonViolation(build(limit))).toBeNull();
    expect(findDeepJsonViolation(build(limit + 1))).toEqual(expect.objectContaining({ rule }));
  });

  it('names the path of the offending value', () => {
    const value = { items: [{ ok: 'a' }, { name: 'x'.repeat(L.maxStringLength + 1) }] };
    expect(findDeepJsonViolation(value, 'inputs')).toEqual(
      expect.objectContaining({ rule: 'max_string_length', path: 'inputs.items[1].name' }),
    );
    expect(findDeepJsonViolation({ 'a b': { list: Array(L.maxArrayItems + 1).fill(1) } }, 'inputs')).toEqual(
      expect.objectContaining({ rule: 'max_array_items', path: 'inputs["a b"].list' }),
    );
  });

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the key %s, even nested', (key) => {
    const value = JSON.parse(`{"a":[{"${key}":{"polluted":true}}]}`) as unknown;
    expect(findDeepJsonViolation(value, 'inputs')).toEqual({
      rule: 'forbidden_key',
      path: `inputs.a[0].${key}`,
      message: `key "${key}" is not allowed`,
    });
  });

  it('refuses values JSON cannot carry', () => {
    expect(findDeepJsonViolation({ n: Infinity })?.rule).toBe('not_json');
    expect(findDeepJsonViolation({ n: NaN })?.rule).toBe('not_json');
    expect(findDeepJsonViolation({ f: () => 1 })?.rule).toBe('not_json');
    expect(findDeepJsonViolation({ d: new Date(0) })?.rule).toBe('not_json');
    expect(findDeepJsonViolation({ u: undefined })?.rule).toBe('not_json');
  });

  it('refuses a 100 000-level value without overflowing the stack, parsed from text and built in memory', () => {
    const text = '['.repeat(100_000) + ']'.repeat(100_000);
    const started = performance.now();
    const fromText = findDeepJsonViolation(JSON.parse(text), 'inputs');
    const inMemory = findDeepJsonViolation(nested(100_000), 'inputs');
    const objects = findDeepJsonViolation(JSON.parse('{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)));
    expect(fromText).toEqual(expect.objectContaining({ rule: 'max_depth' }));
    expect(inMemory).toEqual(expect.objectContaining({ rule: 'max_depth' }));
    expect(objects).toEqual(expect.objectContaining({ rule: 'max_depth', path: '$' + '.a'.repeat(16) }));
    // The walk stops at the limit: the path reported is 16 levels long, not 100 000.
    expect(fromText!.path).toBe('inputs' + '[0]'.repeat(16));
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('does not look into the values at skipPaths, and still into everything else', () => {
    // Parsed from text, as a request body is.
    const body = JSON.parse('{"inputs": {"a": [{"constructor": 1}]}, "requirements": {"prototype": 1}}');
    const inputs = new Set(['inputs']);
    // The control: without the skip, the first violation is inside `inputs`.
    expect(findDeepJsonViolation(body, '')?.path).toBe('inputs.a[0].constructor');
    expect(findDeepJsonViolation(body, '', L, inputs)).toMatchObject({
      rule: 'forbidden_key',
      path: 'requirements.prototype',
    });
    expect(findDeepJsonViolation({ inputs: body.inputs, x: undefined }, '', L, inputs)).toMatchObject({
      rule: 'not_json',
      path: 'x',
    });
    expect(findDeepJsonViolation({ inputs: body.inputs, x: 1 }, '', L, inputs)).toBeNull();
    // Only that path: the same value under another key is looked into.
    expect(findDeepJsonViolation({ other: { inputs: body.inputs } }, '', L, inputs)?.path).toBe(
      'other.inputs.a[0].constructor',
    );
  });

  it('survives a cycle (stops at the depth limit instead of looping)', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(findDeepJsonViolation(cyclic)?.rule).toBe('max_depth');
  });
});

describe('assertDeepJson', () => {
  it('throws a 422 validation_error whose detail names the rule and the path', () => {
    let thrown: unknown;
    try {
      assertDeepJson({ a: { constructor: 1 } }, 'inputs');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AppException);
    const error = thrown as AppException;
    expect(error.getStatus()).toBe(422);
    expect(error.code).toBe('validation_error');
    expect(error.extra).toEqual({
      details: [
        { field: 'inputs.a.constructor', message: 'forbidden_key: key "constructor" is not allowed' },
      ],
    });
  });

  it('passes valid input through', () => {
    expect(() => assertDeepJson({ ok: [1, 2, 3] }, 'inputs')).not.toThrow();
  });
});
