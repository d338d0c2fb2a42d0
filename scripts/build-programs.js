#!/usr/bin/env node
/*
 * Compiles the built-in programs (programs/*.ts, AssemblyScript) to WASI modules: `npm run build` runs it
 * after `nest build` (which empties dist/). Usage: build-programs.js [--out <dir>] [--print]
 *   --out    output directory (default dist/programs)
 *   --print  print "<name> <sha256>" per program (the hashes pinned in src/programs/program-catalog.ts)
 * The flags below are part of the pinned hashes: change them and the catalog changes too. The compiler runs
 * from the repository root so the file names it embeds (in abort messages) are the same on every machine.
 */
'use strict';
const { createHash } = require('node:crypto');
const { mkdirSync, readFileSync } = require('node:fs');
const { join, relative, resolve } = require('node:path');

const ROOT = resolve(__dirname, '..');
const PROGRAMS = ['expression', 'monte_carlo_pi', 'text_stats'];
const SHIM = 'node_modules/@assemblyscript/wasi-shim/asconfig.json';
const FLAGS = ['--optimizeLevel', '3', '--shrinkLevel', '0', '--runtime', 'incremental', '--noColors'];

/** One compiler instance for all programs: loading binaryen dominates the cost of a small program. */
async function compile(asc, name, outDir) {
  const out = join(outDir, `${name}.wasm`);
  // asc resolves paths against its baseDir (the root), so the output path is given relative to it.
  const args = [`programs/${name}.ts`, '--config', SHIM, ...FLAGS, '--outFile', relative(ROOT, out)];
  let stderr = '';
  const { error } = await asc.main(args, {
    baseDir: ROOT,
    stdout: { write: () => true },
    stderr: { write: (chunk) => ((stderr += chunk), true) },
  });
  if (error) throw new Error(`asc failed on programs/${name}.ts: ${error.message}\n${stderr}`);
  return out;
}

async function main() {
  const argv = process.argv.slice(2);
  const outAt = argv.indexOf('--out');
  const outDir = resolve(outAt >= 0 ? argv[outAt + 1] : join(ROOT, 'dist', 'programs'));
  // asc reads its entry files relative to the working directory, whatever its baseDir says.
  process.chdir(ROOT);
  mkdirSync(outDir, { recursive: true });
  // assemblyscript's compiler API is an ES module: a dynamic import from this CommonJS script.
  const asc = await import('assemblyscript/asc');
  const outputs = [];
  for (const name of PROGRAMS) outputs.push(await compile(asc, name, outDir));
  if (argv.includes('--print')) {
    outputs.forEach((file, i) => {
      const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
      process.stdout.write(`${PROGRAMS[i]} ${sha256}\n`);
    });
  }
}

main().catch((error) => {
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
});
