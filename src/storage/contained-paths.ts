import { realpath } from 'node:fs/promises';
import { makeDirectories } from '../common/fs/make-directories';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ContentUnavailableError } from './content-store';

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Creates missing roots (0700) and canonicalises every root with realpath once, at boot. Containment is
 * later checked against these canonical forms, so a root that is itself a symlink cannot confuse the check.
 */
export async function resolveRoots(roots: readonly string[]): Promise<string[]> {
  if (roots.length === 0) throw new Error('a content store needs at least one root directory');
  const resolved: string[] = [];
  for (const root of roots) {
    makeDirectories(root, 0o700);
    resolved.push(await realpath(root));
  }
  return resolved;
}

/** Realpath containment: a path is accepted only if, with every symlink resolved, it lies inside a root. */
export class ContainedPaths {
  /** `roots` must come from resolveRoots; the first one is where new files are written. */
  constructor(readonly roots: readonly string[]) {
    if (roots.length === 0) throw new Error('ContainedPaths needs at least one root');
  }

  get writeRoot(): string {
    return this.roots[0];
  }

  /**
   * Checks a candidate path and returns its canonical form inside a root. Relative paths are taken relative
   * to the first root. Syntax is checked before any file system call so that a hostile string never reaches
   * one; realpath then resolves every symlink, and only the resolved path is compared with the roots.
   */
  async canonicalize(candidate: string): Promise<string> {
    // NUL truncates paths in C APIs: "a.wasm\0../../etc/passwd" must not mean two things.
    if (candidate.includes('\0')) throw new ContentUnavailableError('nul_byte');
    // Stored paths never contain escapes; decoding them here would give one string two interpretations.
    if (/%[0-9a-f]{2}/i.test(candidate)) throw new ContentUnavailableError('percent_encoding');
    if (candidate.includes('\\')) throw new ContentUnavailableError('backslash');
    if (candidate.split('/').includes('..')) throw new ContentUnavailableError('dot_dot');
    const lexical = resolve(this.writeRoot, candidate);
    let real: string;
    try {
      real = await realpath(lexical);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new ContentUnavailableError('missing');
      throw error;
    }
    if (this.roots.some((root) => isInside(root, real))) return real;
    // Distinguish for the logs: the path looked contained, but a symlink on the way leads out.
    const lexicallyInside = this.roots.some((root) => isInside(root, lexical));
    throw new ContentUnavailableError(lexicallyInside ? 'symlink_escape' : 'outside_roots');
  }
}
