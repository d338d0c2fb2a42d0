import { findLoneSurrogate, mayHoldLoneSurrogate } from './lone-surrogates';

describe('lone surrogates in parsed JSON', () => {
  it('gates on the escape in the text', () => {
    expect(mayHoldLoneSurrogate('{"a":"\\ud800"}')).toBe(true);
    expect(mayHoldLoneSurrogate('{"a":"plain 𝒳"}')).toBe(false);
  });

  it('names the path of the first unpaired half, in values and keys', () => {
    expect(findLoneSurrogate(JSON.parse('{"a":{"b":["ok","x\\udfff"]}}'))).toBe('a.b[1]');
    expect(findLoneSurrogate(JSON.parse('{"a":{"\\ud800":1}}'))).toBe('a');
    expect(findLoneSurrogate(JSON.parse('"\\udbff"'))).toBe('body');
  });

  it('accepts whole pairs, reversed pairs excepted', () => {
    expect(findLoneSurrogate(JSON.parse('{"a":"\\ud835\\udcb3"}'))).toBeNull();
    expect(findLoneSurrogate(JSON.parse('{"a":"\\udcb3\\ud835"}'))).toBe('a');
  });
});
