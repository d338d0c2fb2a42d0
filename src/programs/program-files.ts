import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProgramDefinition } from './program-catalog';

/**
 * Where `npm run build` puts the compiled programs: `dist/programs/`. This file runs compiled from
 * `dist/src/programs/` (the server) or as TypeScript from `src/programs/` (tests), hence the two paths.
 */
export function programsDirectory(): string {
  return __filename.endsWith('.js')
    ? join(__dirname, '..', '..', 'programs')
    : join(__dirname, '..', '..', 'dist', 'programs');
}

export class ProgramBuildError extends Error {}

/** A program's compiled bytes, refused unless they hash to the catalog's pinned SHA-256. */
export async function readProgram(program: ProgramDefinition, directory = programsDirectory()) {
  const file = join(directory, `${program.name}.wasm`);
  const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
    throw new ProgramBuildError(`built-in program ${program.name} is not built (${file}): run npm run build`);
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== program.sha256) {
    throw new ProgramBuildError(
      `built-in program ${program.name}: ${file} hashes to ${sha256}, the catalog pins ${program.sha256}; ` +
        'rebuild (npm run build), or update src/programs/program-catalog.ts after changing programs/',
    );
  }
  return bytes;
}
