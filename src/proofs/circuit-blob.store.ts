import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AppConfig } from '../config/app-config';
import { sha256Hex } from './canonical-json';

export interface StoredBlob {
  sha256: string;
  size: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Circuit witness generators and proving keys, content-addressed: `<root>/<first two hex>/<sha256>`. A blob
 * is written to a temporary file in the same directory, flushed, then renamed into place, so a reader (or a
 * crash) never sees half a file, and two writers of the same bytes simply race to an identical result.
 */
@Injectable()
export class CircuitBlobStore {
  private readonly root: string;

  constructor(config: AppConfig) {
    this.root = config.proofs.storageDir;
  }

  private pathOf(sha256: string): string {
    // Only a well-formed digest becomes a path: nothing a caller sends can point outside the root.
    if (!SHA256.test(sha256)) throw new Error('not a SHA-256 digest');
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  async put(bytes: Uint8Array): Promise<StoredBlob> {
    const sha256 = sha256Hex(bytes);
    const target = this.pathOf(sha256);
    const existing = await stat(target).catch(() => null);
    if (existing?.isFile() && existing.size === bytes.byteLength) return { sha256, size: bytes.byteLength };
    const dir = join(this.root, sha256.slice(0, 2));
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${sha256}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { sha256, size: bytes.byteLength };
  }

  /** The bytes stored under `sha256`, re-hashed on the way out: a file altered on disk is an error, not data. */
  async get(sha256: string): Promise<Buffer | null> {
    const bytes = await readFile(this.pathOf(sha256)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    if (bytes && sha256Hex(bytes) !== sha256)
      throw new Error(`stored blob ${sha256} does not match its hash`);
    return bytes;
  }
}
