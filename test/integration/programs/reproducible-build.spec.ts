import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROGRAMS } from '../../../src/programs/program-catalog';
import { sha256 } from '../../support/wasm';

const ROOT = join(__dirname, '..', '..', '..');

/**
 * The pinned hashes of the built-in programs are what the build produces from the committed source: a fresh
 * compile (the build's own script, into an empty directory) gives exactly those bytes.
 */
describe('built-in programs: reproducible build', () => {
  const out = mkdtempSync(join(tmpdir(), 'vcp-programs-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('compiles programs/*.ts to the SHA-256 pinned in program-catalog.ts', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, 'scripts', 'build-programs.js'), '--out', out, '--print'],
      { cwd: tmpdir() },
    );
    const printed = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((line) => line.split(' ')),
    );
    const pinned = Object.fromEntries(PROGRAMS.map((program) => [program.name, program.sha256]));
    expect(printed).toEqual(pinned);
    for (const program of PROGRAMS) {
      expect(sha256(readFileSync(join(out, `${program.name}.wasm`)))).toBe(program.sha256);
    }
  }, 300_000);
});
