import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunRequest } from '../../../src/wasm/run-request';
import { MAX_TABLE_ELEMENTS } from '../../../src/wasm/wasm-binary';
import { V8Runtime } from '../../../src/wasm/v8/v8.runtime';
import { WasmService } from '../../../src/wasm/wasm.service';
import { testConfig, TestConfig } from '../../support/config';
import { eventually } from '../../support/eventually';
import { buildEngine, Engine, fixture, Fixture, guestThreads } from '../../support/wasm';

const ENOTCAPABLE = 76;

/**
 * What a guest found its way out of on the v8 runtime (a probe of 2026-12-07), each a hand-written module in
 * test/fixtures/wasm/src: the host's files through node:wasi's stdio paths, a sleep no timeout could end, a
 * table that aborted the process, the host's /dev/null in a deterministic run, and empty writes that filled
 * the worker's heap.
 */
describe('guests of the v8 runtime stay inside', () => {
  let env: TestConfig;
  let engine: Engine;
  let hostDir: string;

  beforeAll(async () => {
    hostDir = mkdtempSync(join(tmpdir(), 'vcp-guest-escapes-'));
    env = testConfig({
      WASM_ALLOWED_ROOTS: join(hostDir, 'modules'),
      WASM_TIMEOUT_SECS: '5',
      WASM_MAX_MEMORY_MB: '64',
      WASM_MAX_CONCURRENCY: '2',
    });
    engine = await buildEngine(env.config);
  });

  afterAll(async () => {
    await engine?.close();
    env?.cleanup();
    rmSync(hostDir, { recursive: true, force: true });
  });

  const run = (name: Fixture, request: Partial<RunRequest> = {}) =>
    engine.service.runBytes(fixture(name), { inputs: null, runtime: 'v8', ...request });

  it('reads no host file through its stdio descriptors: every path call is refused, nothing is made', async () => {
    const secret = randomBytes(12).toString('hex');
    const file = join(hostDir, 'secret.txt');
    writeFileSync(file, secret);
    const made = ['<stdin>', 'r'].map((entry) => join(process.cwd(), entry));
    const existed = made.map((path) => lstatExists(path));
    for (const deterministic of [false, true]) {
      const sut = await run('stdio_escape', { inputs: file.slice(1), deterministic });
      // The two symlinks and the open: each ENOTCAPABLE, as for a guest with no directory.
      expect(sut.stderr).toBe(`${ENOTCAPABLE} ${ENOTCAPABLE} ${ENOTCAPABLE} `);
      expect(JSON.stringify(sut.stdout)).not.toContain(secret);
      expect(sut.outcome).toBe('ok');
    }
    expect(made.map((path) => lstatExists(path))).toEqual(existed);
  });

  it('sleeps in poll_oneoff, and a sleep past its timeout ends with the run: the worker thread exits', async () => {
    for (const deterministic of [false, true]) {
      const brief = await run('sleep', { args: ['20000000'], deterministic });
      expect([brief.outcome, brief.exit_code]).toEqual(['ok', 0]);
    }
    // A runtime of one worker, so the thread that sleeps is one this test saw before the run.
    const service = new WasmService(env.config.wasm, engine.store, [new V8Runtime({ poolSize: 1 })]);
    try {
      expect((await service.runBytes(fixture('echo'), { inputs: 1, runtime: 'v8' })).outcome).toBe('ok');
      const before = guestThreads();
      const sut = await service.runBytes(fixture('sleep'), {
        inputs: null,
        runtime: 'v8',
        args: ['1000000000000000000'],
        timeoutMs: 300,
      });
      expect(sut.outcome).toBe('timeout');
      // node:wasi slept in native code, which worker.terminate() cannot interrupt: its thread stayed, with the
      // guest's memory, and the process could no longer exit.
      if (before) {
        await eventually(
          () => expect([...before].filter((tid) => !guestThreads()!.has(tid))).not.toEqual([]),
          {
            timeoutMs: 5000,
          },
        );
      }
    } finally {
      await service.close();
    }
  });

  it('sees a stat of no host file on its stdio, so a deterministic run tells nothing of the machine', async () => {
    for (const deterministic of [false, true]) {
      const sut = await run('stdio_stat', { deterministic });
      expect([sut.outcome, sut.exit_code]).toEqual(['ok', 0]);
    }
  });

  it(`holds its tables to ${MAX_TABLE_ELEMENTS} elements: a larger one is refused, growth past it fails`, async () => {
    const big = await run('big_table');
    expect(big.outcome).toBe('invalid_module');
    expect(big.stderr).toContain(`tables of more than ${MAX_TABLE_ELEMENTS} elements in all are not allowed`);
    // 1 element, then 100 000 at a time: nine growths fit under the cap, the tenth fails in the guest.
    const grown = await run('table_grow');
    expect([grown.outcome, grown.exit_code]).toEqual(['exit_nonzero', 9]);
    // The process is still here, and so is the engine.
    expect((await run('echo', { inputs: [3] })).stdout).toEqual([3]);
  });

  it('writes of zero bytes keep nothing: a guest looping on them times out, its worker intact', async () => {
    const sut = await run('zero_writes', { timeoutMs: 500 });
    expect(sut.outcome).toBe('timeout');
    expect(sut.stderr).toBe('');
  });

  it('answers reads and writes of the wrong stdio descriptor, and a clock id past 3, with EBADF itself', async () => {
    const sut = await run('fd_edges', { deterministic: true });
    expect([sut.outcome, sut.exit_code]).toEqual(['exit_nonzero', 80808]);
  });

  it('keeps output written a byte at a time up to the output cap, and stops it there', async () => {
    const ok = await run('byte_writes', { args: ['500000'] });
    expect([ok.outcome, String(ok.stdout).length]).toEqual(['ok', 500000]);
    const capped = await run('byte_writes', { args: ['700000'], limits: { maxOutputBytes: 600000 } });
    expect(capped.outcome).toBe('output_limit');
  });
});

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return existsSync(path);
  }
}
