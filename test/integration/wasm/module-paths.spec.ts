import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ModuleIntegrityError,
  ModulePaths,
  PathRejectedError,
  resolveAllowedRoots,
} from '../../../src/wasm/module-paths';
import { fixture, sha256 } from '../../support/wasm';

/** Path containment against a real file system: every traversal form, symlinks out, and a swapped file. */
describe('ModulePaths', () => {
  let base: string;
  let sut: ModulePaths;
  let root: string;
  let secondRoot: string;
  const echo = fixture('echo');
  const echoId = sha256(echo);

  beforeAll(async () => {
    base = mkdtempSync(join(tmpdir(), 'vcp-wasm-paths-'));
    mkdirSync(join(base, 'outside'));
    writeFileSync(join(base, 'outside', 'secret.wasm'), echo);
    // A root given through a symlink is canonicalised once at boot, and a missing root is created.
    mkdirSync(join(base, 'real-root'));
    symlinkSync(join(base, 'real-root'), join(base, 'linked-root'));
    [root, secondRoot] = await resolveAllowedRoots([
      join(base, 'linked-root'),
      join(base, 'created', 'root2'),
    ]);
    sut = new ModulePaths([root, secondRoot]);
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
      if (error instanceof PathRejectedError) return error.reason;
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

  it('answers "not found" to clients whatever the reason', async () => {
    await expect(sut.canonicalize('/etc/passwd')).rejects.toMatchObject({
      code: 'not_found',
      message: 'Module not found',
    });
  });

  it('reads a module once and verifies its hash', async () => {
    const bytes = await sut.readVerified(`${echoId}.wasm`, echoId, 1024 * 1024);
    expect(sha256(bytes)).toBe(echoId);
  });

  it('refuses a symlink planted inside a root that points out, before reading it', async () => {
    await expect(sut.readVerified('escape.wasm', echoId, 1024 * 1024)).rejects.toMatchObject({
      reason: 'symlink_escape',
    });
  });

  it('refuses a file swapped after upload (hash mismatch)', async () => {
    const id = sha256(fixture('trap'));
    writeFileSync(join(root, `${id}.wasm`), fixture('trap'));
    await expect(sut.readVerified(`${id}.wasm`, id, 1024 * 1024)).resolves.toHaveLength(
      fixture('trap').length,
    );
    writeFileSync(join(root, `${id}.wasm`), fixture('loop')); // swapped behind the store's back
    await expect(sut.readVerified(`${id}.wasm`, id, 1024 * 1024)).rejects.toBeInstanceOf(
      ModuleIntegrityError,
    );
  });

  it('serves a warm read from memory while the file is unchanged: the same verified bytes', async () => {
    const id = sha256(fixture('exit_code'));
    writeFileSync(join(root, `${id}.wasm`), fixture('exit_code'));
    const first = await sut.readVerified(`${id}.wasm`, id, 1024 * 1024);
    await expect(sut.readVerified(`${id}.wasm`, id, 1024 * 1024)).resolves.toBe(first);
  });

  it('reads again, and refuses, a verified file replaced by rename with bytes of the same size', async () => {
    const original = fixture('recursion');
    const id = sha256(original);
    writeFileSync(join(root, `${id}.wasm`), original);
    await expect(sut.readVerified(`${id}.wasm`, id, 1024 * 1024)).resolves.toHaveLength(original.length);
    const tampered = Buffer.from(original);
    tampered[tampered.length - 1] ^= 0xff;
    writeFileSync(join(root, 'tampered.tmp'), tampered);
    renameSync(join(root, 'tampered.tmp'), join(root, `${id}.wasm`)); // new inode, same size
    await expect(sut.readVerified(`${id}.wasm`, id, 1024 * 1024)).rejects.toBeInstanceOf(
      ModuleIntegrityError,
    );
  });

  it('refuses a symlink put in place of a verified file', async () => {
    const id = sha256(fixture('flood'));
    writeFileSync(join(root, `${id}.wasm`), fixture('flood'));
    await expect(sut.readVerified(`${id}.wasm`, id, 1024 * 1024)).resolves.toHaveLength(
      fixture('flood').length,
    );
    unlinkSync(join(root, `${id}.wasm`));
    symlinkSync(join(base, 'outside', 'secret.wasm'), join(root, `${id}.wasm`));
    await expect(sut.readVerified(`${id}.wasm`, id, 1024 * 1024)).rejects.toMatchObject({
      reason: 'symlink_escape',
    });
  });

  it('refuses a file larger than the module limit, and a directory', async () => {
    await expect(sut.readVerified(`${echoId}.wasm`, echoId, 100)).rejects.toMatchObject({
      reason: 'too_large',
    });
    mkdirSync(join(root, 'dir.wasm'));
    await expect(sut.readVerified('dir.wasm', echoId, 1024 * 1024)).rejects.toMatchObject({
      reason: 'not_a_file',
    });
  });
});
