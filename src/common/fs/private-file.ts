import { chmodSync, renameSync, writeFileSync } from 'node:fs';

/**
 * Written with mode 0600 from the start (O_CREAT with the mode; chmod in case a stale temp file existed) to a
 * temp file in the same directory, flushed, then renamed over the target: a crash mid-write must not leave an
 * empty or cut-short file where a key or secret was (rename is atomic on one file system).
 */
export function writePrivateFile(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o600, flush: true });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
