import { AppException } from '../common/errors/app.exception';
import { moduleBytesOf } from './module-upload';

const CAP = 30;

function refusal(body: unknown): { status: number; field?: string } {
  try {
    moduleBytesOf(body, CAP);
  } catch (error) {
    if (!(error instanceof AppException)) throw error;
    const details = error.extra.details as { field: string }[] | undefined;
    return { status: error.getStatus(), field: details?.[0]?.field };
  }
  throw new Error('accepted');
}

describe('moduleBytesOf', () => {
  it('takes raw bytes as they are and canonical base64 decoded', () => {
    const bytes = Buffer.from('\0asm\x01\0\0\0');
    expect(moduleBytesOf(bytes, CAP)).toBe(bytes);
    expect(moduleBytesOf({ wasm_module: bytes.toString('base64') }, CAP).equals(bytes)).toBe(true);
    expect(moduleBytesOf({ wasm_module: '' }, CAP)).toHaveLength(0);
  });

  it('refuses base64 that is not canonical: other alphabets, missing padding, whitespace, stray bits', () => {
    for (const text of ['AAA', 'AA=', 'A A=', 'AAA-', 'AAB=', '_w==', 'AAAA\n', 'AQ==AQ==']) {
      expect({ text, ...refusal({ wasm_module: text }) }).toEqual({
        text,
        status: 422,
        field: 'wasm_module',
      });
    }
  });

  it('refuses other shapes with a 422 naming the field', () => {
    expect(refusal(undefined)).toEqual({ status: 422, field: 'wasm_module' });
    expect(refusal('text')).toEqual({ status: 422, field: 'wasm_module' });
    expect(refusal([1])).toEqual({ status: 422, field: 'wasm_module' });
    expect(refusal({ wasm_module: 1 })).toEqual({ status: 422, field: 'wasm_module' });
    expect(refusal({ wasm_module: 'AAAA', name: 'x' })).toEqual({ status: 422, field: 'name' });
  });

  it('is a 413 by length before decoding: the longest text that can decode to CAP bytes passes', () => {
    // 30 bytes are 40 base64 characters; 44 characters decode to at least 31.
    expect(moduleBytesOf({ wasm_module: 'A'.repeat(40) }, CAP)).toHaveLength(30);
    expect(refusal({ wasm_module: 'A'.repeat(44) })).toEqual({ status: 413, field: undefined });
    expect(refusal({ wasm_module: '!'.repeat(10_000) })).toEqual({ status: 413, field: undefined });
  });
});
