import { duplicateKey } from './verify-receipt';

describe('duplicateKey', () => {
  const sut = duplicateKey;

  it('finds a name given twice in one object, at any depth, however it is escaped', () => {
    expect(sut('{"a": 1, "a": 2}')).toBe('a');
    expect(sut('{"r": {"runs": [{"x": 1}, {"y": 2, "z": {"q": 1, "q": 1}}]}}')).toBe('q');
    expect(sut('{"output_hash": "x", "\\u006futput_hash": "y"}')).toBe('output_hash');
  });

  it('is not misled by names in other objects, string values, escaped quotes or arrays', () => {
    expect(sut('{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}')).toBeNull();
    expect(sut('{"a": "\\"a\\": 1, \\"a\\"", "b": "a", "c": ["a", "a", {"a": "}"}]}')).toBeNull();
    expect(sut('{"a\\\\": 1, "a": 2}')).toBeNull();
    expect(sut('[1, "x", {}, []]')).toBeNull();
  });
});
