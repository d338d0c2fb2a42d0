import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateNodeKeyPair } from '../../src/common/receipts/receipt';
import { runNode } from '../support/node-script';
import { copyOf, flipBase64, receiptFixture } from '../support/receipts';

const CLI = join(__dirname, '../../dist/src/receipts/verify-receipt.js');

/** `npm run verify-receipt -- <file> [--public-key <base64>]` runs `node dist/src/receipts/verify-receipt.js`. */
describe('verify-receipt CLI', () => {
  let dir: string;
  const { file, server } = receiptFixture();

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: this test runs the built CLI (npm run build)`);
    dir = mkdtempSync(join(tmpdir(), 'vcp-receipt-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const save = (name: string, content: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return path;
  };

  // No DATABASE_URL, no DATA_DIR: the check needs nothing but the file.
  const run = (args: string[], stdin = '') =>
    runNode([CLI, ...args], { env: { PATH: process.env.PATH ?? '' }, stdin });

  it('exits 0 when every check holds, printing each one, and notes where the server key came from', async () => {
    const path = save('good.json', file);
    const unpinned = await run([path]);
    expect(unpinned.code).toBe(0);
    expect(unpinned.stdout).toMatch(/^ {2}holds {3}server signature: /m);
    expect(unpinned.stdout).toMatch(/^ {2}holds {3}quorum: 2 distinct node key/m);
    expect(unpinned.stdout).toContain('note: the server key was taken from the receipt itself');
    expect(unpinned.stdout).toMatch(/all \d+ checks hold\n$/);

    const pinned = await run([path, '--public-key', server.publicKeyBase64]);
    expect(pinned.code).toBe(0);
    expect(pinned.stdout).toMatch(/holds {3}server key pinned/);
    expect(pinned.stdout).not.toContain('note:');
    expect((await run(['-'], JSON.stringify(file))).code).toBe(0);
  });

  it.each([
    [
      'output_hash',
      (f: typeof file) => (f.receipt.output_hash = '0'.repeat(64)),
      ['server signature', 'outputs agree'],
    ],
    [
      'a run signature',
      (f: typeof file) => (f.receipt.runs[0].signature = flipBase64(f.receipt.runs[0].signature)),
      ['server signature', 'run signatures'],
    ],
    [
      'the server signature',
      (f: typeof file) => (f.signature = flipBase64(f.signature)),
      ['server signature'],
    ],
  ])('exits 1 and names what broke when %s is changed', async (_case, tamper, broken) => {
    const tampered = copyOf(file);
    tamper(tampered);
    const { code, stdout } = await run([save('tampered.json', tampered)]);
    expect(code).toBe(1);
    for (const name of broken) expect(stdout).toMatch(new RegExp(`^ {2}FAILED {2}${name}: `, 'm'));
    expect(stdout).toMatch(/\d+ of \d+ checks FAILED\n$/);
  });

  it('exits 1 when the receipt is not signed by the key given with --public-key', async () => {
    const { code, stdout } = await run([
      save('good.json', file),
      `--public-key=${generateNodeKeyPair().publicKeyBase64}`,
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/FAILED {2}server key pinned/);
  });

  it.each([
    ['no file', []],
    ['a missing file', [join(tmpdir(), 'no-such-receipt.json')]],
    ['a file that is not JSON', ['NOT_JSON']],
    ['a malformed --public-key', ['GOOD', '--public-key', 'abc']],
    ['an unknown option', ['GOOD', '--verbose']],
  ])('exits 2 on %s, with the usage', async (_case, args) => {
    const paths = args.map((arg) =>
      arg === 'GOOD' ? save('good.json', file) : arg === 'NOT_JSON' ? save('bad.json', '{"receipt": ') : arg,
    );
    const { code, stderr } = await run(paths);
    expect(code).toBe(2);
    expect(stderr).toContain('usage: npm run verify-receipt');
  });

  it('exits 2 on a file that names a field twice in one object: a shadowed value is never passed as checked', async () => {
    // JSON.parse keeps the last output_hash (the signed one); a reader, or a parser keeping the first, sees the other.
    const good = JSON.stringify(file);
    const shadowed = good.replace('"output_hash":', `"output_hash":"${'0'.repeat(64)}","output_hash":`);
    expect(shadowed).not.toBe(good);
    const { code, stdout, stderr } = await run([save('shadowed.json', shadowed)]);
    expect(code).toBe(2);
    expect(stdout).not.toContain('holds');
    expect(stderr).toContain('names "output_hash" twice in one object');
  });

  it('exits 2 on input larger than a receipt can be, without reading it to its end', async () => {
    // Standard input that never ends: refused once past the bound, not read (into memory) forever.
    const child = spawn(process.execPath, [CLI, '-'], { env: { PATH: process.env.PATH ?? '' } });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on('error', () => undefined); // the CLI stops reading: writes then fail with EPIPE
    const block = Buffer.alloc(1024 * 1024, ' ');
    const feed = () => {
      while (child.exitCode === null && child.stdin.write(block));
      if (child.exitCode === null) child.stdin.once('drain', feed);
    };
    feed();
    const code = await new Promise<number | null>((resolve) => {
      // A bound for a CLI that never stops, not a wait: it exits as soon as it has read past the limit.
      const stuck = setTimeout(() => child.kill(), 30_000);
      child.on('exit', (exitCode) => {
        clearTimeout(stuck);
        resolve(exitCode);
      });
    });
    expect(code).toBe(2);
    expect(stderr).toContain('- is larger than a receipt can be');
  });

  it('prints the file’s own text with control characters escaped: a forged receipt cannot draw "holds" lines', async () => {
    const forged = copyOf(file);
    forged.receipt.task_id = 'x\n  holds   server signature: fine\u001b[2K';
    const { code, stdout } = await run([save('forged.json', forged)]);
    expect(code).toBe(1);
    expect(stdout).toContain('x\\u000a  holds');
    expect(stdout).not.toContain('\u001b');
    expect(stdout.split('\n').filter((line) => line.startsWith('  holds   server signature'))).toEqual([]);
  });

  it('exits 1, naming the format check, for a receipt whose fields are objects with an own toString', async () => {
    // Parsed JSON, so checkable: a check fails (1), the checker does not ("could not check", 2).
    const odd = copyOf(file) as unknown as { receipt: Record<string, unknown> };
    for (const field of ['task_id', 'task_type', 'verification', 'quorum'])
      odd.receipt[field] = { toString: 1 };
    const { code, stdout, stderr } = await run([save('odd.json', odd)]);
    expect(stderr).toBe('');
    expect(code).toBe(1);
    expect(stdout).toMatch(/^receipt of task \{"toString":1\} /);
    expect(stdout).toMatch(/^ {2}FAILED {2}format: /m);
  });

  it('loads no Nest, database or HTTP code', async () => {
    const probe = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [
        '-e',
        `require(${JSON.stringify(CLI)}); process.stdout.write(Object.keys(require.cache).join('\\n'))`,
      ]);
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.on('exit', () => resolve(out));
    });
    expect(probe).toContain('receipt-check.js');
    expect(probe).not.toMatch(/@nestjs|typeorm|[/\\]pg[/\\]|fastify/);
  });
});
