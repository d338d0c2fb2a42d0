import { invalidUtf8Offset } from './utf8';

describe('invalidUtf8Offset', () => {
  const bytes = (...values: number[]) => Uint8Array.from(values);

  it('is null for well-formed UTF-8, multi-byte characters included', () => {
    expect(invalidUtf8Offset(Buffer.from('{"text": "héllo 世界 🎉"}'))).toBeNull();
    expect(invalidUtf8Offset(bytes())).toBeNull();
  });

  it.each([
    ['a stray continuation byte', bytes(0x61, 0x80, 0x62), 1],
    ['0xff', bytes(0x61, 0x62, 0xff, 0xfe), 2],
    ['an overlong "/"', bytes(0x61, 0xc0, 0xaf), 1],
    ['an encoded surrogate', bytes(0x61, 0xed, 0xa0, 0x80), 1],
    ['a sequence cut short by the end', bytes(0x61, 0x62, 0xe4, 0xb8), 2],
    ['a sequence cut short by ASCII', bytes(0xe4, 0x61, 0x62), 0],
    ['past U+10FFFF', bytes(0x61, 0xf4, 0x90, 0x80, 0x80), 1],
  ])('finds %s', (_name, input, offset) => {
    expect(invalidUtf8Offset(input)).toBe(offset);
  });
});
