import { findUnstorableText, mayHoldUnstorableText, storableText } from './unstorable-text';

describe('text PostgreSQL cannot store, in parsed JSON', () => {
  it('gates on the escape in the text', () => {
    expect(mayHoldUnstorableText('{"a":"\\ud800"}')).toBe(true);
    expect(mayHoldUnstorableText('{"a":"x\\u0000"}')).toBe(true);
    expect(mayHoldUnstorableText('{"a":"plain 𝒳 \\u0001"}')).toBe(false);
  });

  it('names the path of the first unpaired half, in values and keys', () => {
    expect(findUnstorableText(JSON.parse('{"a":{"b":["ok","x\\udfff"]}}'))).toBe('a.b[1]');
    expect(findUnstorableText(JSON.parse('{"a":{"\\ud800":1}}'))).toBe('a');
    expect(findUnstorableText(JSON.parse('"\\udbff"'))).toBe('body');
  });

  it('accepts whole pairs, reversed pairs excepted', () => {
    expect(findUnstorableText(JSON.parse('{"a":"\\ud835\\udcb3"}'))).toBeNull();
    expect(findUnstorableText(JSON.parse('{"a":"\\udcb3\\ud835"}'))).toBe('a');
  });

  it('names a NUL in a value or a key; an escaped backslash before u0000 is not one', () => {
    expect(findUnstorableText(JSON.parse('{"inputs":{"text":"a\\u0000b"}}'))).toBe('inputs.text');
    expect(findUnstorableText(JSON.parse('{"args":["\\u0000"]}'))).toBe('args[0]');
    expect(findUnstorableText(JSON.parse('{"o":{"k\\u0000":1}}'))).toBe('o');
    expect(findUnstorableText(JSON.parse('{"a":"\\\\u0000"}'))).toBeNull();
  });
});

describe('storableText', () => {
  it('replaces NUL and unpaired surrogates with U+FFFD in strings and keys, deeply; leaves the rest', () => {
    expect(storableText('a\u0000b')).toBe('a\ufffdb');
    expect(storableText({ 'k\u0000': ['x\ud800', 1, null, 'ok 𝒳'] })).toEqual({
      'k\ufffd': ['x\ufffd', 1, null, 'ok 𝒳'],
    });
    expect(storableText(42)).toBe(42);
    const clean = { a: ['ok 𝒳'] };
    expect(storableText(clean)).toBe(clean); // not copied
    expect(findUnstorableText(storableText(JSON.parse('{"a":"\\u0000\\udfff"}')))).toBeNull();
  });
});

describe('findUnstorableText for a route that handles NUL itself', () => {
  it('lets NUL through and still names an unpaired surrogate', () => {
    expect(findUnstorableText(JSON.parse('{"username":"a\\u0000"}'), true)).toBeNull();
    expect(findUnstorableText(JSON.parse('{"username":"a\\u0000"}'))).toBe('username');
    expect(findUnstorableText(JSON.parse('{"username":"x\\ud800"}'), true)).toBe('username');
  });
});
