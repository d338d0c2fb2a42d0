import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootId, pidNamespace, processStartTime } from './process-identity';

const PROC = existsSync(`/proc/${process.pid}/stat`);
if (!PROC) console.warn('SKIPPED process-identity tests: no /proc/<pid>/stat on this machine');
const onProc = PROC ? it : it.skip;

describe('processStartTime', () => {
  onProc('reads the start time even when the command name holds spaces and parentheses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vcp-identity-'));
    const sleep = ['/bin/sleep', '/usr/bin/sleep'].find((path) => existsSync(path))!;
    symlinkSync(sleep, join(dir, 'a) 1 2 (b'));
    const odd = spawn(join(dir, 'a) 1 2 (b'), ['60'], { stdio: 'ignore' });
    await new Promise((resolve) => odd.once('spawn', resolve));
    const later = spawn(sleep, ['60'], { stdio: 'ignore' });
    try {
      const mine = Number(processStartTime(process.pid));
      const start = Number(processStartTime(odd.pid!));
      expect(processStartTime(odd.pid!)).toMatch(/^\d+$/);
      expect(start).toBeGreaterThanOrEqual(mine);
      expect(start).toBeLessThanOrEqual(Number(processStartTime(later.pid!)));
    } finally {
      odd.kill('SIGKILL');
      later.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is undefined for a process that does not exist', () => {
    expect(processStartTime(2147483646)).toBeUndefined();
  });

  onProc('has a boot id and a PID namespace', () => {
    expect(bootId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(pidNamespace()).toMatch(/^\d+$/);
  });
});
