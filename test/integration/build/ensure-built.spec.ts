import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '../../..');
const SCRIPT = join(ROOT, 'scripts/ensure-built.js');
const STAMP = join(ROOT, 'dist/.built');

const run = (...args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8' });

/**
 * `npm start`, `npm run cli`, `npm run migration:*` build only when dist/ is older than its sources: a build
 * empties dist/, and a server running from it then lost the files its worker threads load.
 */
describe('scripts/ensure-built.js (needs the build `npm test` makes first)', () => {
  it('leaves an up-to-date dist/ alone, and calls one older than a source due for a build', () => {
    const built = statSync(STAMP);
    expect(run('--check').status).toBe(0);
    const marker = join(ROOT, 'dist', `.ensure-built-probe-${process.pid}`);
    writeFileSync(marker, '');
    try {
      const answer = run();
      expect(answer.status).toBe(0);
      expect(answer.stdout).toBe('');
      // Nothing rebuilt: the build would have emptied dist/ and stamped it anew.
      expect(existsSync(marker)).toBe(true);
      expect(statSync(STAMP).mtimeMs).toBe(built.mtimeMs);

      const sourceTime = statSync(join(ROOT, 'src/main.ts')).mtime;
      utimesSync(STAMP, built.atime, new Date(sourceTime.getTime() - 60_000));
      expect(run('--check').status).toBe(1);
    } finally {
      utimesSync(STAMP, built.atime, built.mtime);
      rmSync(marker, { force: true });
    }
    expect(run('--check').status).toBe(0);
  });

  it('is what the scripts an operator runs beside a live server use, instead of an unconditional build', () => {
    const scripts = JSON.parse(
      execFileSync('npm', ['pkg', 'get', 'scripts'], { cwd: ROOT, encoding: 'utf8' }),
    ) as Record<string, string>;
    for (const name of ['start', 'agent', 'cli', 'migration:run', 'migration:revert', 'migration:show']) {
      expect([name, scripts[name].startsWith('node scripts/ensure-built.js && ')]).toEqual([name, true]);
    }
    expect(scripts.build.endsWith('node scripts/ensure-built.js --stamp')).toBe(true);
  });
});
