import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('says on stderr that it builds, and why, before the build starts (a first start is silent a minute)', () => {
    // A copy in a directory of its own, whose build fails at once: this checkout's dist/ is left alone.
    const root = mkdtempSync(join(tmpdir(), 'ensure-built-'));
    try {
      mkdirSync(join(root, 'scripts'));
      mkdirSync(join(root, 'src'));
      copyFileSync(SCRIPT, join(root, 'scripts/ensure-built.js'));
      writeFileSync(join(root, 'src/main.ts'), '');
      writeFileSync(join(root, 'package.json'), JSON.stringify({ scripts: { build: 'exit 3' } }));
      const copy = () =>
        spawnSync(process.execPath, [join(root, 'scripts/ensure-built.js')], { cwd: root, encoding: 'utf8' });
      const first = copy();
      expect(first.status).toBe(3);
      expect(first.stdout).toBe('');
      expect(first.stderr).toMatch(/^dist\/ has not been built yet: building it first \(npm run build/);
      mkdirSync(join(root, 'dist'));
      writeFileSync(join(root, 'dist/.built'), '');
      const past = new Date(Date.now() - 60_000);
      utimesSync(join(root, 'dist/.built'), past, past);
      expect(copy().stderr).toMatch(/^dist\/ is older than the sources: building it first/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
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
