import { canonicalJson } from './canonical-json';
import { canonicalDecimal, ShapeError } from './zk-validation';

describe('canonicalJson', () => {
  it('sorts keys at every depth, keeps array order and drops whitespace', () => {
    expect(canonicalJson({ b: [3, { z: 'x', a: null }], a: 'é"' })).toBe(
      '{"a":"é\\"","b":[3,{"a":null,"z":"x"}]}',
    );
  });

  it('gives two key orders of one object one form', () => {
    expect(canonicalJson({ x: 1, y: { p: '1', q: '2' } })).toBe(
      canonicalJson({ y: { q: '2', p: '1' }, x: 1 }),
    );
  });

  it.each([[1.5], [2 ** 60], [NaN], [undefined]])('refuses %p, which has no single spelling', (value) => {
    expect(() => canonicalJson({ v: value })).toThrow(TypeError);
  });
});

describe('canonicalDecimal', () => {
  it('reads digits', () => expect(canonicalDecimal('1234', 'f')).toBe(1234n));
  it.each(['', '01', '+1', '-1', '0x1', ' 1', '1 ', '1e3', '1.0', '١', '9'.repeat(79)])(
    'refuses %p',
    (value) => {
      expect(() => canonicalDecimal(value, 'f')).toThrow(ShapeError);
    },
  );

  it('calls a canonical decimal past 78 digits too large, not malformed (the caller names its bound)', () => {
    expect(() => canonicalDecimal('9'.repeat(79), 'f', 'must be less than r')).toThrow(
      new ShapeError('f', 'must be less than r'),
    );
    expect(() => canonicalDecimal('9'.repeat(200_000), 'f')).toThrow(
      new ShapeError('f', 'has too many digits'),
    );
    // Malformed past 78 characters is still malformed (the negative control).
    expect(() => canonicalDecimal(`${'9'.repeat(79)}x`, 'f')).toThrow(/canonical decimal/);
  });
});
