import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const RUN = join(__dirname, '../../dist/bench/chaos/run.js');

/** What the chaos run needs from the machine: PostgreSQL's server binaries and redis-server. */
function missingTools(): string[] {
  const missing: string[] = [];
  const pgBin = process.env.PG_BIN_DIR;
  const hasInitdb = pgBin
    ? existsSync(join(pgBin, 'initdb'))
    : spawnSync('sh', ['-c', 'ls /usr/lib/postgresql/*/bin/initdb']).status === 0;
  if (!hasInitdb) missing.push('PostgreSQL server binaries (initdb; set PG_BIN_DIR)');
  if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) missing.push('redis-server');
  return missing;
}

/**
 * Issue 19: `CHAOS_PROFILE=ci npm run chaos` inside `npm test` (and so inside .ci/run): replicas, agents,
 * kill -9, SIGSTOP, a PostgreSQL crash and a Redis restart, judged by its invariants. It runs in the serial
 * pass, alone on the machine, because it is a whole deployment on two cores.
 */
describe('chaos (CI profile)', () => {
  const missing = missingTools();
  if (missing.length > 0) {
    // Printed, not silent: a machine without these cannot run the fault test (CI has them).
    console.warn(`chaos CI profile skipped: this machine lacks ${missing.join(' and ')}`);
    it.skip('needs PostgreSQL server binaries and redis-server', () => undefined);
    return;
  }

  it('passes: no task lost, doubled or completed from a stale lease; readiness recovers; all faults injected', async () => {
    if (!existsSync(RUN)) throw new Error(`${RUN} is missing: run npm run build first`);
    const child = spawn(process.execPath, [RUN], {
      env: { ...process.env, CHAOS_PROFILE: 'ci' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) console.log(output);
    expect(output).toMatch(/^chaos passed in \d+ s/m);
    expect(output).not.toMatch(/^FAILED /m);
    expect(code).toBe(0);
  }, 300_000);
});
