import { generateNodeKeyPair } from '../common/receipts/receipt';
import { copyOf, flipBase64, receiptFixture, resign } from '../../test/support/receipts';
import { CheckName, checkReceipt, CHECKS, ReceiptCheck } from './receipt-check';

const failed = (checks: ReceiptCheck[]): CheckName[] =>
  checks.filter((check) => !check.holds).map((check) => check.name);

describe('checkReceipt', () => {
  const sut = checkReceipt;

  it('an untampered receipt holds every check', () => {
    const { file, server } = receiptFixture();
    const checks = sut(copyOf(file), { publicKey: server.publicKeyBase64 });
    expect(failed(checks)).toEqual([]);
    expect(checks.map((check) => check.name)).toEqual([
      CHECKS.format,
      CHECKS.serverSignature,
      CHECKS.serverKeyId,
      CHECKS.serverKeyPinned,
      CHECKS.runSignatures,
      CHECKS.runsBindTask,
      CHECKS.canonicalRun,
      CHECKS.outputsAgree,
      CHECKS.quorum,
    ]);
  });

  it('holds for a single-run task (no verdicts, no quorum check) and for a zk task (with the proof check)', () => {
    const single = receiptFixture({ minNodes: 1, taskType: 'computation' });
    expect(single.file.receipt.verification).toBe('none');
    expect(failed(sut(copyOf(single.file)))).toEqual([]);
    expect(sut(single.file).map((check) => check.name)).not.toContain(CHECKS.quorum);

    const zk = receiptFixture({ minNodes: 1, taskType: 'zk_proof' });
    const checks = sut(copyOf(zk.file));
    expect(failed(checks)).toEqual([]);
    expect(checks.map((check) => check.name)).toContain(CHECKS.proof);
  });

  it('a changed output_hash breaks the server signature and the outputs check', () => {
    const { file } = receiptFixture();
    const tampered = copyOf(file);
    tampered.receipt.output_hash = tampered.receipt.output_hash.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'));
    const checks = sut(tampered);
    // No run vouches for the claimed output any more, so the quorum is gone too.
    expect(failed(checks)).toEqual([CHECKS.serverSignature, CHECKS.outputsAgree, CHECKS.quorum]);
    expect(checks.find((check) => check.name === CHECKS.outputsAgree)?.detail).toContain(
      `run ${file.receipt.runs[0].run_id}`,
    );
  });

  it('a changed run signature breaks that run’s signature (and the server’s, which covers it)', () => {
    const { file } = receiptFixture();
    const tampered = copyOf(file);
    tampered.receipt.runs[1].signature = flipBase64(tampered.receipt.runs[1].signature);
    const checks = sut(tampered);
    expect(failed(checks)).toEqual([CHECKS.serverSignature, CHECKS.runSignatures, CHECKS.quorum]);
    expect(checks.find((check) => check.name === CHECKS.runSignatures)?.detail).toContain(
      `run ${tampered.receipt.runs[1].run_id}`,
    );
  });

  it('a changed field of a run receipt breaks its node signature and its binding to the task', () => {
    const { file } = receiptFixture();
    const tampered = copyOf(file);
    tampered.receipt.runs[0].receipt.inputs_hash = 'f'.repeat(64);
    expect(failed(sut(tampered))).toEqual([
      CHECKS.serverSignature,
      CHECKS.runSignatures,
      CHECKS.runsBindTask,
      CHECKS.quorum,
    ]);
  });

  it('a changed server signature breaks only the server signature', () => {
    const { file } = receiptFixture();
    const tampered = copyOf(file);
    tampered.signature = flipBase64(tampered.signature);
    expect(failed(sut(tampered))).toEqual([CHECKS.serverSignature]);
    // The last character before "==" carries 4 unused bits: flipping one decodes to the same 64 bytes, yet
    // the text is not what the server sent, so it must fail too.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const padded = copyOf(file);
    const last = padded.signature.length - 3;
    const flipped = alphabet[alphabet.indexOf(padded.signature[last]) ^ 1];
    padded.signature = padded.signature.slice(0, last) + flipped + '==';
    expect(Buffer.from(padded.signature, 'base64')).toEqual(Buffer.from(file.signature, 'base64'));
    expect(failed(sut(padded))).toEqual([CHECKS.serverSignature]);
  });

  it('a swapped server_public_key breaks the signature and the key id; a re-signing impostor fails only the pin', () => {
    const { file, server } = receiptFixture();
    const impostor = generateNodeKeyPair();
    const swapped = copyOf(file);
    swapped.receipt.server_public_key = impostor.publicKeyBase64;
    expect(failed(sut(swapped))).toEqual([CHECKS.serverSignature, CHECKS.serverKeyId]);

    const forged = resign(copyOf(file).receipt, impostor);
    expect(failed(sut(forged))).toEqual([]);
    expect(failed(sut(forged, { publicKey: server.publicKeyBase64 }))).toEqual([CHECKS.serverKeyPinned]);
  });

  it('a server-signed receipt still fails what it claims wrongly: quorum, canonical run, proof, verification', () => {
    const node = generateNodeKeyPair();
    const server = generateNodeKeyPair();
    // One node ran twice: two valid runs, one key.
    const twice = receiptFixture({ nodes: [node, node] });
    expect(failed(sut(twice.file))).toEqual([CHECKS.quorum]);

    const { file } = receiptFixture();
    const noCanonical = copyOf(file).receipt;
    noCanonical.canonical_run_id = '00000000-0000-4000-8000-000000000000';
    expect(failed(sut(resign(noCanonical, server)))).toEqual([CHECKS.canonicalRun]);

    const zk = copyOf(receiptFixture({ minNodes: 1, taskType: 'zk_proof' }).file).receipt;
    delete zk.proof_id;
    expect(failed(sut(resign(zk, server)))).toEqual([CHECKS.proof]);

    const understated = copyOf(file).receipt;
    understated.verification = 'none';
    expect(failed(sut(resign(understated, server)))).toEqual([CHECKS.format]);

    const invalidCanonical = copyOf(file).receipt;
    invalidCanonical.runs[0].verdict = 'invalid';
    expect(failed(sut(resign(invalidCanonical, server)))).toEqual([CHECKS.outputsAgree, CHECKS.quorum]);
  });

  it('a WASM receipt may state args and deterministic, of their types and only beside module_hash', () => {
    const server = generateNodeKeyPair();
    const stated = copyOf(receiptFixture({ minNodes: 1, taskType: 'computation' }).file).receipt;
    Object.assign(stated, { args: ['0', 'a'], deterministic: true });
    expect(failed(sut(resign(stated, server)))).toEqual([]);
    for (const wrong of [{ args: [1] }, { args: 'a b' }, { deterministic: 'yes' }]) {
      const receipt = { ...copyOf(stated), ...wrong } as unknown as typeof stated;
      expect(failed(sut(resign(receipt, server)))).toEqual([CHECKS.format]);
    }
    const zk = copyOf(receiptFixture({ minNodes: 1, taskType: 'zk_proof' }).file).receipt;
    Object.assign(zk, { args: [] });
    expect(failed(sut(resign(zk, server)))).toEqual([CHECKS.format]);
  });

  it('a run of another task, or another module, does not bind', () => {
    const server = generateNodeKeyPair();
    const { file } = receiptFixture();
    const other = receiptFixture();
    const mixed = copyOf(file).receipt;
    // Same output, genuinely signed by its node, but for another task: it proves nothing about this one.
    mixed.runs[1] = copyOf(other.file.receipt.runs[1]);
    expect(failed(sut(resign(mixed, server)))).toEqual([CHECKS.runsBindTask, CHECKS.quorum]);
    const moved = copyOf(file).receipt;
    moved.module_hash = 'e'.repeat(64);
    expect(failed(sut(resign(moved, server)))).toEqual([CHECKS.runsBindTask, CHECKS.quorum]);
  });

  it('changing any one character of the file makes it unreadable or fails a check', () => {
    const { file } = receiptFixture({ minNodes: 2 });
    const text = JSON.stringify(file);
    let changed = 0;
    for (let i = 0; i < text.length; i++) {
      const replacement = String.fromCharCode(text.charCodeAt(i) ^ 1);
      let parsed: unknown;
      try {
        parsed = JSON.parse(text.slice(0, i) + replacement + text.slice(i + 1));
      } catch {
        continue; // not JSON any more: the CLI refuses it (exit 2)
      }
      changed++;
      expect({ at: i, failed: failed(sut(parsed)).length > 0 }).toEqual({ at: i, failed: true });
    }
    expect(changed).toBeGreaterThan(text.length / 2);
  });

  it('a field that is an object whose own toString is not a function fails the format check, never throws', () => {
    // JSON.parse makes {"toString": 1} an own property: String() of it (or a template literal) throws.
    const hostile = { toString: 1 };
    const zk = copyOf(receiptFixture({ minNodes: 1, taskType: 'zk_proof' }).file);
    (zk.receipt as unknown as Record<string, unknown>).proof_id = hostile;
    expect(failed(sut(zk))).toEqual(expect.arrayContaining([CHECKS.format, CHECKS.proof]));
    const quorum = copyOf(receiptFixture().file);
    (quorum.receipt as unknown as Record<string, unknown>).quorum = hostile;
    expect(failed(sut(quorum))).toEqual(expect.arrayContaining([CHECKS.format, CHECKS.quorum]));
  });

  it('names the format problem of something that is not a receipt', () => {
    expect(sut(null)).toEqual([expect.objectContaining({ name: CHECKS.format, holds: false })]);
    expect(failed(sut({ receipt: {}, signature: 'x' }))).toContain(CHECKS.format);
  });
});
