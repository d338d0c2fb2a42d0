import { createHash } from 'node:crypto';
import { BigIntStats, constants } from 'node:fs';
import { lstat, mkdir, open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';

export type PathRejection =
  | 'nul_byte'
  | 'percent_encoding'
  | 'backslash'
  | 'dot_dot'
  | 'outside_roots'
  | 'symlink_escape'
  | 'not_a_file'
  | 'too_large'
  | 'missing';

/**
 * A module path the engine refuses to open. Clients only ever see "not found" (a path probe must not learn
 * what exists on the host); `reason` is for logs and tests.
 */
export class PathRejectedError extends AppException {
  constructor(readonly reason: PathRejection) {
    super(ErrorCode.NotFound, 'Module not found');
    this.name = 'PathRejectedError';
  }
}

/**
 * The bytes on disk no longer hash to the module id: tampering or corruption, never run or serve them. A 409
 * with a message the client can act on (uploading the same bytes again rewrites the file); the store logs
 * each one as an error for the operator, since the filter logs only 5xx.
 */
export class ModuleIntegrityError extends AppException {
  constructor() {
    super(
      ErrorCode.Conflict,
      'Module integrity check failed: the stored bytes no longer match the module id; upload the module again',
    );
    this.name = 'ModuleIntegrityError';
  }
}

function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

/**
 * Creates missing roots (0700) and canonicalises every root with realpath once, at boot. Containment is
 * later checked against these canonical forms, so a root that is itself a symlink cannot confuse the check.
 */
export async function resolveAllowedRoots(roots: readonly string[]): Promise<string[]> {
  if (roots.length === 0) throw new Error('WASM_ALLOWED_ROOTS: at least one directory is required');
  const resolved: string[] = [];
  for (const root of roots) {
    await mkdir(root, { recursive: true, mode: 0o700 });
    resolved.push(await realpath(root));
  }
  return resolved;
}

/** The identity of a file as the kernel reports it: any rename over it, rewrite or resize changes it. */
interface Fingerprint {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

const fingerprint = ({ dev, ino, size, mtimeNs, ctimeNs }: BigIntStats): Fingerprint => ({
  dev,
  ino,
  size,
  mtimeNs,
  ctimeNs,
});

const sameFingerprint = (a: Fingerprint, b: Fingerprint) =>
  a.dev === b.dev &&
  a.ino === b.ino &&
  a.size === b.size &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs;

/** Modules read and verified recently, least recently used first out, within a byte budget. */
class VerifiedFiles {
  private readonly entries = new Map<string, { file: Fingerprint; bytes: Buffer }>();
  private total = 0;

  constructor(private readonly budget: number) {}

  get(key: string): { file: Fingerprint; bytes: Buffer } | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, file: Fingerprint, bytes: Buffer): void {
    this.delete(key);
    if (bytes.length > this.budget) return;
    this.entries.set(key, { file, bytes });
    this.total += bytes.length;
    for (const [oldest] of this.entries) {
      if (this.total <= this.budget) break;
      this.delete(oldest);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.total -= entry.bytes.length;
  }
}

/** Verified module bytes kept in memory (a warm run then reads neither the file nor its hash again). */
export const VERIFIED_CACHE_BYTES = 64 * 1024 * 1024;

/** Path containment and verified reads for the module store. Roots must come from resolveAllowedRoots. */
export class ModulePaths {
  private readonly verified = new VerifiedFiles(VERIFIED_CACHE_BYTES);

  constructor(readonly roots: readonly string[]) {
    if (roots.length === 0) throw new Error('ModulePaths needs at least one root');
  }

  /** Where uploads are written. */
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
    if (candidate.includes('\0')) throw new PathRejectedError('nul_byte');
    // Module paths never contain escapes; decoding them here would give one string two interpretations.
    if (/%[0-9a-f]{2}/i.test(candidate)) throw new PathRejectedError('percent_encoding');
    if (candidate.includes('\\')) throw new PathRejectedError('backslash');
    if (candidate.split('/').includes('..')) throw new PathRejectedError('dot_dot');
    const lexical = resolve(this.writeRoot, candidate);
    let real: string;
    try {
      real = await realpath(lexical);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new PathRejectedError('missing');
      throw error;
    }
    if (this.roots.some((root) => isInside(root, real))) return real;
    // Distinguish for the logs: the path looked contained, but a symlink on the way leads out.
    const lexicallyInside = this.roots.some((root) => isInside(root, lexical));
    throw new PathRejectedError(lexicallyInside ? 'symlink_escape' : 'outside_roots');
  }

  /**
   * Reads a module and proves it is the one named by `sha256`. The file is opened once (O_NOFOLLOW, so a
   * last component swapped for a symlink after the check fails) and the bytes are read from that descriptor;
   * whatever was swapped in between, only bytes hashing to the id are ever returned (no TOCTOU window).
   *
   * The verified bytes are then kept in memory with the file's identity (device, inode, size, mtime and
   * ctime, taken before reading). While a later read finds the path unchanged (lstat, so a symlink put in
   * its place differs too) it returns those bytes without reading or hashing again: they are the verified
   * bytes themselves, so nothing unverified can run. Anything that changes the file (rename over it, rewrite,
   * truncation) changes its identity, and the file is read and verified again, and refused if it no longer
   * hashes to the id. The returned Buffer may be shared: callers must not modify it.
   */
  async readVerified(candidate: string, sha256: string, maxBytes: number): Promise<Buffer> {
    const real = await this.canonicalize(candidate);
    const key = `${sha256}:${real}`;
    const known = this.verified.get(key);
    if (known && known.bytes.length <= maxBytes) {
      const now = await lstat(real, { bigint: true }).catch(() => null);
      if (now && now.isFile() && sameFingerprint(known.file, fingerprint(now))) return known.bytes;
      this.verified.delete(key);
    }
    let handle;
    try {
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new PathRejectedError('symlink_escape');
      if (code === 'ENOENT') throw new PathRejectedError('missing');
      throw error;
    }
    try {
      const stat = await handle.stat({ bigint: true });
      if (!stat.isFile()) throw new PathRejectedError('not_a_file');
      if (stat.size > BigInt(maxBytes)) throw new PathRejectedError('too_large');
      const bytes = await handle.readFile();
      if (bytes.length > maxBytes) throw new PathRejectedError('too_large');
      if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new ModuleIntegrityError();
      this.verified.set(key, fingerprint(stat), bytes);
      return bytes;
    } finally {
      await handle.close();
    }
  }
}
