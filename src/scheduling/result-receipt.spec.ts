import * as receipts from '../common/receipts/receipt';
import { generateNodeKeyPair, resultReceipt, signReceipt } from '../common/receipts/receipt';
import { SubmissionReceipts } from './result-receipt';

describe('SubmissionReceipts', () => {
  const receipt = resultReceipt({
    task_id: '00000000-0000-4000-8000-000000000001',
    run_id: '00000000-0000-4000-8000-000000000002',
    fence: '3',
    inputs_hash: 'a'.repeat(64),
    module_hash: 'c'.repeat(64),
    output_hash: 'b'.repeat(64),
    outcome: 'ok',
    execution_time_ms: 5,
  });
  const signer = generateNodeKeyPair();
  const signature = signReceipt(receipt, signer.privateKey);

  afterEach(() => jest.restoreAllMocks());

  it('verifies a receipt once per submission, and every other key, signature or field again', () => {
    const verify = jest.spyOn(receipts, 'verifyReceipt');
    const sut = new SubmissionReceipts();
    expect(sut.verify(receipt, signature, signer.publicKeyBase64)).toBe(true);
    expect(sut.verify({ ...receipt }, signature, signer.publicKeyBase64)).toBe(true);
    expect(verify).toHaveBeenCalledTimes(1);

    const other = generateNodeKeyPair();
    expect(sut.verify(receipt, signature, other.publicKeyBase64)).toBe(false);
    expect(sut.verify({ ...receipt, fence: '4' }, signature, signer.publicKeyBase64)).toBe(false);
    expect(sut.verify({ ...receipt, output_hash: 'd'.repeat(64) }, signature, signer.publicKeyBase64)).toBe(
      false,
    );
    const otherSignature = signReceipt(receipt, other.privateKey);
    expect(sut.verify(receipt, otherSignature, signer.publicKeyBase64)).toBe(false);
    expect(verify).toHaveBeenCalledTimes(5);
  });

  it('remembers nothing that did not verify', () => {
    const verify = jest.spyOn(receipts, 'verifyReceipt');
    const sut = new SubmissionReceipts();
    const forged = signReceipt({ ...receipt, fence: '9' }, signer.privateKey);
    expect(sut.verify(receipt, forged, signer.publicKeyBase64)).toBe(false);
    expect(sut.verify(receipt, forged, signer.publicKeyBase64)).toBe(false);
    expect(verify).toHaveBeenCalledTimes(2);
  });
});
