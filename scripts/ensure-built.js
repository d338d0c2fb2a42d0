#!/usr/bin/env node
/*
 * Builds (`npm run build`) only when dist/ is missing or older than what it is built from, so the commands an
 * operator runs beside a live server (`npm run cli`, `npm run migration:*`, a second `npm start`) never empty
 * the dist/ that server is running from: a build deletes it first, and the server's next worker thread then
 * failed to load and took the process down. After a source change it builds, as before.
 *   ensure-built.js           build if stale, then exit with the build's code (0 when nothing was needed)
 *   ensure-built.js --stamp   record that dist/ was just built (the last step of `npm run build`)
 *   ensure-built.js --check   only say: exit 0 when dist/ is up to date, 1 when a build is due
 */
'use strict';
const { spawnSync } = require('node:child_process');
const { readdirSync, statSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
const STAMP = join(ROOT, 'dist', '.built');
/** What `npm run build` reads: the sources, the built-in programs, and the files that configure the build. */
const INPUTS = [
  'src',
  'migrations',
  'programs',
  'scripts/build-programs.js',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'nest-cli.json',
];

/** The newest modification time under `path` (a file or a directory tree), 0 when it does not exist. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

function stampTime() {
  try {
    return statSync(STAMP).mtimeMs;
  } catch {
    return 0;
  }
}

if (process.argv.includes('--stamp')) {
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  process.exit(0);
}
const built = stampTime();
const changed = Math.max(...INPUTS.map((input) => newest(join(ROOT, input))));
if (built > 0 && changed <= built) process.exit(0);
if (process.argv.includes('--check')) process.exit(1);
// The build prints nothing while it works (about a minute): without this line a first `npm start` looks hung.
process.stderr.write(
  `${built > 0 ? 'dist/ is older than the sources' : 'dist/ has not been built yet'}: ` +
    'building it first (npm run build, about a minute)…\n',
);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const build = spawnSync(npm, ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
process.exit(build.status ?? 1);
