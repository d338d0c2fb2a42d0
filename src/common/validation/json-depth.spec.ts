import { findDeepJsonViolation } from './deep-json';
import { findTooDeepJson } from './json-depth';

const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n);

describe('findTooDeepJson', () => {
  it('accepts depth − 1 and depth, refuses depth + 1', () => {
    expect(findTooDeepJson(arrays(3), 4)).toBeNull();
    expect(findTooDeepJson(arrays(4), 4)).toBeNull();
    expect(findTooDeepJson(arrays(5), 4)).toBe('[0][0][0][0]');
  });

  it('names the same path and depth as findDeepJsonViolation', () => {
    const texts = [
      '{"a": [1, 2, {"b c": [[{"d": {}}]]}], "e": 1}',
      '[0, "x", {"k": [{}, [[["deep"]]]]}]',
      '{"inputs": {"list": [{}, {"x": {"y": {"z": []}}}]}}',
      '{"\\"quoted\\\\": [{"\\u0041": [[[]]]}]}',
    ];
    for (const text of texts) {
      for (let depth = 1; depth <= 6; depth++) {
        const fromValue = findDeepJsonViolation(JSON.parse(text), '', { ...UNBOUNDED, maxDepth: depth });
        expect({ text, depth, path: findTooDeepJson(text, depth) }).toEqual({
          text,
          depth,
          path: fromValue?.rule === 'max_depth' ? fromValue.path : null,
        });
      }
    }
  });

  it('ignores brackets, braces, commas and escaped quotes inside strings', () => {
    const text = JSON.stringify({ s: '[[[[{{{{",,,\\"[[', t: ['"]]]', '\\'], u: { v: [[]] } });
    expect(findTooDeepJson(text, 4)).toBeNull();
    expect(findTooDeepJson(text, 3)).toBe('u.v[0]');
  });

  it('handles 100 000 levels without recursion and a 1 MiB string without scanning it char by char', () => {
    expect(findTooDeepJson(`{"inputs": ${arrays(100_000)}}`, 64)).toBe(`inputs${'[0]'.repeat(63)}`);
    expect(findTooDeepJson(JSON.stringify({ blob: 'A'.repeat(1024 * 1024) }), 1)).toBeNull();
  });

  it('leaves broken text to JSON.parse', () => {
    expect(findTooDeepJson('{"a": "unterminated', 1)).toBeNull();
    expect(findTooDeepJson(']]]}}}', 1)).toBeNull();
    expect(findTooDeepJson('', 1)).toBeNull();
  });

  it('reports the root itself when nothing may nest, and uses the given root name', () => {
    expect(findTooDeepJson('{}', 0)).toBe('');
    expect(findTooDeepJson('[[1]]', 1, 'body')).toBe('body[0]');
  });
});

const UNBOUNDED = {
  maxDepth: Infinity,
  maxArrayItems: Infinity,
  maxObjectKeys: Infinity,
  maxKeyLength: Infinity,
  maxStringLength: Infinity,
};
