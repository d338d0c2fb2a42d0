import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContainedPaths, resolveRoots } from '../../../src/storage/contained-paths';
import { ContentUnavailableError } from '../../../src/storage/content-store';
import { fixture, sha256 } from '../../support/wasm';

/** Realpath containment against a real file system: every traversal form and symlinks out. */
describe('ContainedPaths', () => {
  let base: string;
  let sut: ContainedPaths;
  let root: string;
  let secondRoot: string;
  const echo = fixture('echo');
  const echoId = sha256(echo);

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'vcp-storage-paths-'));
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside', 'secret.wasm'), echo);
    // A root given through a symlink is canonicalised once at boot, and a missing root is created.
    mkdirSync(join(base, 'real-root'));
    symlinkSync(join(base, 'real-root'), join(base, 'linked-root'));
    [root, secondRoot] = await resolveRoots([join(base, 'linked-root'), join(base, 'created', 'root2')]);
    sut = new ContainedPaths([root, secondRoot]);
    writeFileSync(join(root, `${echoId}.wasm`), echo);
    symlinkSync(join(base, 'outside', 'secret.wasm'), join(root, 'escape.wasm'));
    symlinkSync(join(base, 'outside'), join(root, 'escape-dir'));
    writeFileSync(join(secondRoot, 'other.wasm'), echo);
  });

  afterAll(() => rmSync(base, { recursive: true, force: true }));

  const reason = async (candidate: string) => {
    try {
      await sut.canonicalize(candidate);
    } catch (error) {
      if (error instanceof ContentUnavailableError) return error.reason;
      throw error;
    }
    return 'accepted';
  };

  it('resolves roots with realpath and creates the missing ones', () => {
    expect(root).toBe(join(base, 'real-root'));
    expect(secondRoot).toBe(join(base, 'created', 'root2'));
  });

  it('accepts a module inside a root, relative or absolute, and in any root', async () => {
    await expect(sut.canonicalize(`${echoId}.wasm`)).resolves.toBe(join(root, `${echoId}.wasm`));
    await expect(sut.canonicalize(join(base, 'linked-root', `${echoId}.wasm`))).resolves.toBe(
      join(root, `${echoId}.wasm`),
    );
    await expect(sut.canonicalize(join(secondRoot, 'other.wasm'))).resolves.toBe(
      join(secondRoot, 'other.wasm'),
    );
  });

  it.each([
    ['../outside/secret.wasm', 'dot_dot'],
    ['sub/../../outside/secret.wasm', 'dot_dot'],
    ['..', 'dot_dot'],
    ['%2e%2e/outside/secret.wasm', 'percent_encoding'],
    ['%2E%2E%2Foutside%2Fsecret.wasm', 'percent_encoding'],
    ['..%2foutside/secret.wasm', 'percent_encoding'],
    ['..\\outside\\secret.wasm', 'backslash'],
    [`${'x'}.wasm\0../../etc/passwd`, 'nul_byte'],
    ['/etc/passwd', 'outside_roots'],
    ['escape.wasm', 'symlink_escape'],
    ['escape-dir/secret.wasm', 'symlink_escape'],
    ['no-such-module.wasm', 'missing'],
  ])('rejects %j (%s)', async (candidate, expected) => {
    expect(await reason(candidate)).toBe(expected);
  });

  it('rejects an absolute path outside the roots even when it exists', async () => {
    expect(await reason(join(base, 'outside', 'secret.wasm'))).toBe('outside_roots');
  });
});
