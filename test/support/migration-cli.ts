import { execFile } from 'node:child_process';
import { join } from 'node:path';

const CLI = join(__dirname, '../../dist/src/migration-cli.js');

/**
 * Runs the built migration CLI as a deployment's migration job does: production, on `databaseUrl`, without
 * JWT_SECRET, peppers, CORS or metrics settings (a migration job needs none). Never rejects: a failed run
 * resolves with its exit code and output.
 */
export function runMigrationCli(
  databaseUrl: string,
  command: string,
  env: Record<string, string> = {},
  timeoutMs = 0,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, command],
      {
        env: { PATH: process.env.PATH ?? '', ENVIRONMENT: 'production', DATABASE_URL: databaseUrl, ...env },
        timeout: timeoutMs,
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, out: `${stdout}${stderr}` }),
    );
  });
}
