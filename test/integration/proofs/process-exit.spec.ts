import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { exited, requireBuild } from '../../support/server-process';
import { testConfig, TestConfig } from '../../support/config';
import { createTestDatabase, TestDatabase } from '../../support/postgres';

const PROBE = join(__dirname, '../../support/proofs-exit-probe.js');

/**
 * Runs the probe on the built code. Once it has printed its result (up to 30 s on a busy machine), waits
 * `ms` more for it to exit; resolves with its exit or 'still running'.
 */
async function runProbe(env: Record<string, string>, args: string[], ms: number) {
  const child = spawn(process.execPath, [PROBE, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let printed: () => void = () => undefined;
  const result = new Promise<void>((resolve) => (printed = resolve));
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    if (out.includes('"valid"')) printed();
  });
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const done = exited(child);
  let timer: NodeJS.Timeout | undefined;
  const after = (wait: number) =>
    new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), wait)));
  await Promise.race([result, done, after(30_000)]);
  clearTimeout(timer);
  const outcome = await Promise.race([done, after(ms)]);
  clearTimeout(timer);
  if (outcome === 'still running') {
    child.kill('SIGKILL');
    await done;
  }
  return { outcome, out };
}

/**
 * Acceptance 5, and the worker script from the build: the probe runs dist/ (where the verifier worker is the
 * copied .js asset), verifies a proof, closes the context and must then exit by itself.
 */
describe('a process using the proof services exits by itself after closing them', () => {
  let db: TestDatabase;
  let env: TestConfig;

  beforeAll(async () => {
    requireBuild();
    db = await createTestDatabase();
    env = testConfig();
  });

  afterAll(async () => {
    await db?.drop();
    env?.cleanup();
  });

  const probeEnv = () => ({
    DATABASE_URL: db.url,
    DATA_DIR: env.dataDir,
    ENVIRONMENT: 'test',
    LOG_LEVEL: 'silent',
    PROOF_WORKERS: '2',
  });

  it.each([[[]], [['--main-curve']]])(
    'verifies on dist/ worker threads and exits 0 on its own (%j)',
    async (args) => {
      const { outcome, out } = await runProbe(probeEnv(), args, 30_000);
      expect(outcome).toEqual({ code: 0, signal: null });
      expect(JSON.parse(out.trim().split('\n').pop()!)).toMatchObject({ valid: true, error_message: null });
    },
  );

  it('negative control: a snarkjs curve not terminated by the shutdown keeps the process running (5 s)', async () => {
    const { outcome, out } = await runProbe(probeEnv(), ['--main-curve', '--leave-pool-open'], 5_000);
    expect(out).toContain('"valid":true');
    expect(outcome).toBe('still running');
  });
});
