import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInThisContext } from 'node:vm';
import {
  COMPILED_BYTES_PER_MODULE_BYTE,
  RECYCLE_AFTER_MEMORY_BYTES,
  V8Runtime,
  V8RuntimeOptions,
} from '../../../src/wasm/v8/v8.runtime';
import type { RunRequest } from '../../../src/wasm/run-request';
import type { ModuleStoreService } from '../../../src/wasm/module-store.service';
import { WasmService } from '../../../src/wasm/wasm.service';
import { testConfig, TestConfig } from '../../support/config';
import { buildModuleStore, fixture, Fixture } from '../../support/wasm';
import { leb, name, section, vector } from '../../support/wasm-encoding';

const ENOTSUP = 58;
/** What the guest's allowlist answers a WASI function it refuses (guest-imports.js). */
const ENOTCAPABLE = 76;

// --- a few hand-assembled WASI commands (one memory page, `_start` calling WASI functions) ---------------
type ValueType = 'i32' | 'i64';
const CODE: Record<ValueType, number> = { i32: 0x7f, i64: 0x7e };

interface Import {
  name: string;
  params: ValueType[];
  result?: ValueType;
}

/** `body` may use `call(name)` and `i32(n)` / `i64(n)` (n < 64); `_start` ends by falling off its end. */
function wasiCommand(
  imports: Import[],
  body: (op: {
    call: (name: string) => number[];
    i32: (n: number) => number[];
    i64: (n: number) => number[];
  }) => number[],
  data: { offset: number; bytes: number[] }[] = [],
): Buffer {
  const types = [
    ...imports.map((i) => [
      0x60,
      ...vector(i.params.map((p) => [CODE[p]])),
      ...vector(i.result ? [[CODE[i.result]]] : []),
    ]),
    [0x60, 0, 0],
  ];
  const index = (n: string) => imports.findIndex((i) => i.name === n);
  const code = body({
    call: (n) => [0x10, ...leb(index(n))],
    i32: (n) => [0x41, n],
    i64: (n) => [0x42, n],
  });
  const fn = [0, ...code, 0x0b];
  return Buffer.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(
      2,
      vector(imports.map((i, t) => [...name('wasi_snapshot_preview1'), ...name(i.name), 0x00, ...leb(t)])),
    ),
    ...section(3, vector([leb(imports.length)])),
    ...section(5, vector([[0x00, 0x01]])),
    ...section(
      7,
      vector([
        [...name('memory'), 0x02, 0x00],
        [...name('_start'), 0x00, ...leb(imports.length)],
      ]),
    ),
    ...section(10, vector([[...leb(fn.length), ...fn]])),
    ...section(
      11,
      vector(data.map((d) => [0x00, 0x41, ...leb(d.offset), 0x0b, ...vector(d.bytes.map((b) => [b]))])),
    ),
  ]);
}

const PROC_EXIT: Import = { name: 'proc_exit', params: ['i32'] };
/** Calls `name(args)` and exits with the errno it returned. */
const exitWithErrnoOf = (
  fn: Import,
  args: (op: { i32: (n: number) => number[]; i64: (n: number) => number[] }) => number[],
) =>
  wasiCommand([{ ...fn, result: 'i32' }, PROC_EXIT], (op) => [
    ...args(op),
    ...op.call(fn.name),
    ...op.call('proc_exit'),
  ]);

/** The v8 runtime's own guarantees beyond the shared contract: what node:wasi would let a guest do to the host. */
describe('v8 runtime: guests cannot reach the host through node:wasi', () => {
  let env: TestConfig;
  let dir: string;
  const engines: { close: () => Promise<unknown> }[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'vcp-wasm-v8-'));
    env = testConfig({ WASM_ALLOWED_ROOTS: dir, WASM_TIMEOUT_SECS: '5' });
  });

  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function engine(options: Partial<V8RuntimeOptions> = {}): Promise<WasmService> {
    const store = await buildModuleStore(env.config);
    const service = new WasmService(env.config.wasm, store, [new V8Runtime({ poolSize: 1, ...options })]);
    engines.push({ close: () => Promise.all([service.close(), store.checker.close()]) });
    return service;
  }

  const run = (service: WasmService, bytes: Buffer, request: Partial<RunRequest> = {}) =>
    service.runBytes(bytes, { inputs: null, runtime: 'v8', ...request });

  it('proc_raise does not signal the host process', async () => {
    const service = await engine();
    let delivered = 0;
    const onSignal = () => delivered++;
    // Jest's `process` is a copy whose listeners a real signal never reaches: listen on the host's own (which
    // also keeps SIGUSR2 from ending the test process if the guard broke).
    const host = runInThisContext('process') as NodeJS.Process;
    // WASI signal 12; node:wasi would kill(getpid(), SIGUSR2). It maps no signal 27 (SIGWINCH): ENOSYS.
    host.on('SIGUSR2', onSignal);
    try {
      const sut = await run(
        service,
        exitWithErrnoOf({ name: 'proc_raise', params: ['i32'] }, (op) => op.i32(12)),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(delivered).toBe(0);
      expect(sut).toEqual(expect.objectContaining({ outcome: 'exit_nonzero', exit_code: ENOTSUP }));
      // Control: a SIGUSR2 the host does get reaches the listener within the same wait.
      process.kill(process.pid, 'SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(delivered).toBe(1);
    } finally {
      host.off('SIGUSR2', onSignal);
    }
  });

  it('closing stdio leaves the host descriptor and the guest stdio in place, call after call', async () => {
    const service = await engine(); // one worker: every call below runs in the same thread
    const closer = wasiCommand(
      [
        { name: 'fd_close', params: ['i32'], result: 'i32' },
        { name: 'fd_write', params: ['i32', 'i32', 'i32', 'i32'], result: 'i32' },
        { name: 'fd_fdstat_get', params: ['i32', 'i32'], result: 'i32' },
        PROC_EXIT,
      ],
      (op) => [
        ...[0, 1, 2].flatMap((fd) => [...op.i32(fd), ...op.call('fd_close'), 0x1a]),
        ...[...op.i32(1), ...op.i32(0), ...op.i32(1), ...op.i32(8), ...op.call('fd_write'), 0x1a],
        ...[...op.i32(1), ...op.i32(32), ...op.call('fd_fdstat_get'), ...op.call('proc_exit')],
      ],
      [
        { offset: 0, bytes: [16, 0, 0, 0, 3, 0, 0, 0] }, // one iovec: 3 bytes at 16
        { offset: 16, bytes: [...Buffer.from('"x"')] },
      ],
    );
    for (let i = 0; i < 3; i++) {
      expect(await run(service, closer)).toEqual(
        expect.objectContaining({ outcome: 'ok', exit_code: 0, stdout: 'x' }),
      );
      expect((await run(service, fixture('echo'), { inputs: { i } })).stdout).toEqual({ i });
    }
  });

  it.each<[string, Import, (op: { i32: (n: number) => number[]; i64: (n: number) => number[] }) => number[]]>(
    [
      [
        'fd_renumber onto stdio',
        { name: 'fd_renumber', params: ['i32', 'i32'] },
        (op) => [...op.i32(2), ...op.i32(1)],
      ],
      [
        'fd_fdstat_set_rights',
        { name: 'fd_fdstat_set_rights', params: ['i32', 'i64', 'i64'] },
        (op) => [...op.i32(1), ...op.i64(0), ...op.i64(0)],
      ],
      [
        'fd_fdstat_set_flags',
        { name: 'fd_fdstat_set_flags', params: ['i32', 'i32'] },
        (op) => [...op.i32(1), ...op.i32(1)],
      ],
      [
        'fd_filestat_set_size',
        { name: 'fd_filestat_set_size', params: ['i32', 'i64'] },
        (op) => [...op.i32(0), ...op.i64(0)],
      ],
      [
        'fd_filestat_set_times',
        { name: 'fd_filestat_set_times', params: ['i32', 'i64', 'i64', 'i32'] },
        (op) => [...op.i32(0), ...op.i64(0), ...op.i64(0), ...op.i32(0)],
      ],
      [
        'fd_allocate',
        { name: 'fd_allocate', params: ['i32', 'i64', 'i64'] },
        (op) => [...op.i32(1), ...op.i64(0), ...op.i64(1)],
      ],
    ],
  )(
    '%s on stdio is refused (it would change the host descriptor or outlive the call)',
    async (_, fn, args) => {
      const service = await engine();
      const sut = await run(service, exitWithErrnoOf(fn, args));
      expect(sut).toEqual(expect.objectContaining({ outcome: 'exit_nonzero', exit_code: ENOTCAPABLE }));
    },
  );
});

/** Warm calls reuse what the worker holds (module, WASI host, an instance made ahead): results never mix. */
describe('v8 runtime: warm state carries nothing from one call to the next', () => {
  let env: TestConfig;
  let dir: string;
  let service: WasmService;
  let store: ModuleStoreService;
  let runtime: V8Runtime;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vcp-wasm-v8-'));
    env = testConfig({ WASM_ALLOWED_ROOTS: dir, WASM_TIMEOUT_SECS: '30' });
    store = await buildModuleStore(env.config);
    // One worker and room (by bytes) for one of the larger fixtures: switching modules evicts, and the worker
    // drops it too.
    runtime = new V8Runtime({ poolSize: 1, cacheBytes: 30_000 * COMPILED_BYTES_PER_MODULE_BYTE });
    service = new WasmService(env.config.wasm, store, [runtime]);
  });

  afterAll(async () => {
    await service?.close();
    await store?.checker.close();
    env?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (name: Fixture, request: Partial<RunRequest> = {}) =>
    service.runBytes(fixture(name), { inputs: null, runtime: 'v8', ...request });

  it('gives each call its own inputs, argv, environment and exit code, across module switches', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await run('echo', { inputs: { i } })).stdout).toEqual({ i });
      expect((await run('echo', { inputs: [i, 'again'] })).stdout).toEqual([i, 'again']);
      const exit = await run('exit_code', { args: [String(i + 1), 'x'.repeat(i)] });
      expect(exit).toEqual(expect.objectContaining({ exit_code: i + 1, stdout: { argc: 3 } }));
      expect(await run('exit_code', { args: ['0'] })).toEqual(
        expect.objectContaining({ outcome: 'ok', stdout: { argc: 2 } }),
      );
      expect((await run('env', { args: ['A'], env: { A: `v${i}` } })).stdout).toEqual({
        count: 1,
        value: `v${i}`,
      });
      expect((await run('env', { args: ['A'] })).stdout).toEqual({ count: 0, value: null });
    }
  });

  it('a trap or an output overflow does not leak into the next call of the same module', async () => {
    expect((await run('trap')).outcome).toBe('trap');
    expect((await run('trap')).outcome).toBe('trap');
    expect((await run('echo', { inputs: 'after trap' })).stdout).toBe('after trap');
    expect((await run('flood', { timeoutMs: 3000 })).outcome).toBe('output_limit');
    expect((await run('echo', { inputs: 'after flood' })).stdout).toBe('after flood');
  });

  it('deterministic and free runs of the same module alternate without affecting each other', async () => {
    const fixed = await run('clock_random', { deterministic: true });
    const free = await run('clock_random');
    const fixedAgain = await run('clock_random', { deterministic: true });
    expect(fixedAgain.output_hash).toBe(fixed.output_hash);
    expect(free.output_hash).not.toBe(fixed.output_hash);
  });

  it('a worker whose guest grew large is replaced after the run, so an idle engine does not keep that memory', async () => {
    expect((await run('echo', { inputs: 'small' })).stdout).toBe('small');
    const [small] = runtime.workerThreadIds;
    expect((await run('echo', { inputs: 'small again' })).stdout).toBe('small again');
    expect(runtime.workerThreadIds).toEqual([small]); // negative control: a small run keeps its worker

    // A cap just past RECYCLE_AFTER_MEMORY_BYTES, and 30 s to reach it: at the default cap (256 MB) the bomb
    // took longer than 5 s on a loaded machine.
    const bomb = await run('memory_bomb', {
      limits: { maxMemoryBytes: RECYCLE_AFTER_MEMORY_BYTES + 16 * 1024 * 1024 },
    });
    expect(bomb.outcome).toBe('memory_limit');
    expect(runtime.workerThreadIds).toHaveLength(1);
    expect(runtime.workerThreadIds).not.toEqual([small]);
    expect((await run('echo', { inputs: 'after' })).stdout).toBe('after');
  });
});
