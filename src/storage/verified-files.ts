import { BigIntStats } from 'node:fs';

/** The identity of a file as the kernel reports it: any rename over it, rewrite or resize changes it. */
export interface Fingerprint {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export const fingerprint = ({ dev, ino, size, mtimeNs, ctimeNs }: BigIntStats): Fingerprint => ({
  dev,
  ino,
  size,
  mtimeNs,
  ctimeNs,
});

export const sameFingerprint = (a: Fingerprint, b: Fingerprint) =>
  a.dev === b.dev &&
  a.ino === b.ino &&
  a.size === b.size &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs;

/** Files read and verified recently, least recently used first out, within a byte budget. */
export class VerifiedFiles {
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
