import type { HashedContent } from './hashed-content';

/** Why a stored object cannot be read: `missing` is the ordinary case, the others are refusals. */
export type ContentRejection =
  | 'malformed_id'
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
 * The store cannot hand out the object. Callers turn this into their own "not found" (a path probe must not
 * learn what exists on the host); `reason` is for logs and tests.
 */
export class ContentUnavailableError extends Error {
  constructor(readonly reason: ContentRejection) {
    super(`stored content unavailable: ${reason}`);
    this.name = 'ContentUnavailableError';
  }
}

/**
 * The bytes on disk no longer hash to their id: tampering or corruption. Never serve or run them; callers
 * answer 409 `conflict` (storing the same bytes again rewrites the file).
 */
export class ContentIntegrityError extends Error {
  constructor(readonly sha256: string) {
    super(`stored content ${sha256} does not hash to its id`);
    this.name = 'ContentIntegrityError';
  }
}

/**
 * Content-addressed storage: bytes in, their SHA-256 (lowercase hex) out. Each instance is one namespace
 * (a root and an on-disk layout chosen at construction), so identical bytes are stored once per namespace.
 * The abstract class is the DI token; a feature module provides the instance for its own namespace.
 */
export abstract class ContentStore {
  /**
   * Stores the bytes (atomically; a copy that already verifies is kept) and returns their SHA-256. Given
   * HashedContent, the bytes are not hashed again (see there why that is safe).
   */
  abstract put(content: Uint8Array | HashedContent): Promise<string>;

  /**
   * The bytes stored under `sha256`, checked against it before they are returned. Throws
   * ContentUnavailableError (missing or refused) or ContentIntegrityError (the bytes do not hash to the id).
   * The returned Buffer may be shared: callers must not modify it. `maxBytes` (default: the store's own limit)
   * bounds what is read, for a caller that knows the object's recorded size (stored under a higher limit).
   */
  abstract open(sha256: string, maxBytes?: number): Promise<Buffer>;

  /** Whether a copy that verifies against `sha256` is stored. */
  async has(sha256: string): Promise<boolean> {
    try {
      await this.open(sha256);
      return true;
    } catch (error) {
      if (error instanceof ContentUnavailableError || error instanceof ContentIntegrityError) return false;
      throw error;
    }
  }

  /**
   * Whether an object is stored under `sha256`, by its presence alone: nothing is read or hashed, so it costs
   * the same whatever the size, and a corrupt copy counts (`open` refuses it, `put` replaces it). For a caller
   * that has just `put` the bytes and must know whether a `delete` has removed them since; `has` when the
   * copy must also verify. A malformed id is never stored.
   */
  abstract exists(sha256: string): Promise<boolean>;

  /**
   * Removes the object this store wrote (idempotent: absent is fine). Copies an operator placed in other
   * read roots are not the store's to delete.
   */
  abstract delete(sha256: string): Promise<void>;

  /**
   * The ids of objects this store holds (and `delete` removes) that were stored before `before` (ms since the
   * epoch): for a sweep of bytes no row names, such as those a crash left between `put` and the caller's row
   * insert. Copies in other read roots are not listed.
   */
  abstract storedBefore(before: number): Promise<string[]>;
}
