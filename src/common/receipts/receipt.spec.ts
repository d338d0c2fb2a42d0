import { generateNodeKeyPair, receiptBytes, resultReceipt, signReceipt, verifyReceipt } from './receipt';

describe('verifyReceipt (public keys parsed once and cached by their text)', () => {
  const receipt = resultReceipt({
    task_id: '00000000-0000-4000-8000-000000000001',
    run_id: '00000000-0000-4000-8000-000000000002',
    fence: '7',
    inputs_hash: 'a'.repeat(64),
    output_hash: 'b'.repeat(64),
    outcome: 'ok',
    execution_time_ms: 3,
  });

  it('verifies with the signer’s key, again from the cache, and never with another key', () => {
    const signer = generateNodeKeyPair();
    const other = generateNodeKeyPair();
    const signature = signReceipt(receipt, signer.privateKey);
    for (let i = 0; i < 3; i++) {
      expect(verifyReceipt(receipt, signature, signer.publicKeyBase64)).toBe(true);
      // Negative control: a cached key is never reused for another key's text.
      expect(verifyReceipt(receipt, signature, other.publicKeyBase64)).toBe(false);
    }
    expect(verifyReceipt({ ...receipt, fence: '8' }, signature, signer.publicKeyBase64)).toBe(false);
    expect(receiptBytes(receipt).length).toBeGreaterThan(0);
  });

  it('still verifies the first key after more keys than the cache holds were seen', () => {
    const first = generateNodeKeyPair();
    const signature = signReceipt(receipt, first.privateKey);
    expect(verifyReceipt(receipt, signature, first.publicKeyBase64)).toBe(true);
    for (let i = 0; i < 1100; i++) {
      const key = Buffer.alloc(32, 0);
      key.writeUInt32BE(i + 1);
      expect(verifyReceipt(receipt, signature, key.toString('base64'))).toBe(false);
    }
    expect(verifyReceipt(receipt, signature, first.publicKeyBase64)).toBe(true);
  });

  it('refuses keys that are not 32 bytes, and garbage signatures, without throwing', () => {
    const signer = generateNodeKeyPair();
    const signature = signReceipt(receipt, signer.privateKey);
    expect(verifyReceipt(receipt, signature, Buffer.alloc(31).toString('base64'))).toBe(false);
    expect(verifyReceipt(receipt, signature, '')).toBe(false);
    expect(verifyReceipt(receipt, 'not base64 at all', signer.publicKeyBase64)).toBe(false);
  });

  it('takes a signature only as standard base64, the one encoding of its 64 bytes', () => {
    const signer = generateNodeKeyPair();
    const signature = signReceipt(receipt, signer.privateKey);
    expect(verifyReceipt(receipt, signature, signer.publicKeyBase64)).toBe(true);
    const urlSafe = Buffer.from(signature, 'base64').toString('base64url');
    // Each of these decodes to the same 64 bytes with Buffer.from's lenient base64.
    for (const mangled of [
      `${signature.slice(0, 10)}!!@@ \n${signature.slice(10)}`,
      `${signature}AAAA`,
      ` ${signature} `,
      urlSafe,
      signature.replace(/==$/, ''),
    ]) {
      expect(Buffer.from(mangled, 'base64').equals(Buffer.from(signature, 'base64'))).toBe(true);
      expect(verifyReceipt(receipt, mangled, signer.publicKeyBase64)).toBe(false);
    }
  });
});
