import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's own recursive mkdirSync (20, 22 and 24 alike) never returns on a
 * pseudo file system such as /proc: there mkdir says ENOENT for a directory whose parent exists, and Node
 * answers that by making the parent again, forever. Here each level is made once its parent exists, and an
 * error then is the answer (any file system that refuses new directories, not only the paths we thought of).
 */
export function makeDirectories(path: string, mode: number): void {
  const target = resolve(path);
  try {
    mkdirSync(target, { mode });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && isDirectory(target)) return;
    if (code !== 'ENOENT' || dirname(target) === target) throw error;
  }
  makeDirectories(dirname(target), mode);
  try {
    mkdirSync(target, { mode });
  } catch (error) {
    // Made meanwhile by another process (two agents starting on one new data dir): as good as ours.
    if (!((error as NodeJS.ErrnoException).code === 'EEXIST' && isDirectory(target))) throw error;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
