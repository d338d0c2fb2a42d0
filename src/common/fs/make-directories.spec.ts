import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirectories } from './make-directories';

describe('makeDirectories', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'vcp-mkdirs-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('makes every missing level with the mode, and takes an existing directory as made', () => {
    const deep = join(root, 'a', 'b', 'c');
    makeDirectories(deep, 0o700);
    makeDirectories(deep, 0o700);
    expect(statSync(deep).isDirectory()).toBe(true);
    expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o700);
  });

  it('refuses a file in the way, at the path or above it', () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    expect(() => makeDirectories(file, 0o700)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => makeDirectories(join(file, 'sub', 'dir'), 0o700)).toThrow(
      expect.objectContaining({ code: 'ENOTDIR' }),
    );
  });

  it('answers a file system that makes no directories with its error, where recursive mkdir spins', () => {
    expect(() => makeDirectories('/proc/self/vcp/x', 0o700)).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });
});
