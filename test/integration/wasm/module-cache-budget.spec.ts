import { randomBytes } from 'node:crypto';
import { RuntimeJob, WasmRuntime } from '../../../src/wasm/runtime';
import { COMPILED_BYTES_PER_MODULE_BYTE, V8Runtime } from '../../../src/wasm/v8/v8.runtime';
import { WasmerRuntime } from '../../../src/wasm/wasmer/wasmer.runtime';
import { fixture, sha256 } from '../../support/wasm';
import { name, section } from '../../support/wasm-encoding';

/** The echo fixture padded with a custom section to `size` bytes: a distinct module of a chosen size. */
function moduleOfSize(size: number): Buffer {
  const base = fixture('echo');
  const header = section(0, [...name('pad'), 0]).length + 3; // room for a longer size field
  return Buffer.concat([
    base,
    Buffer.from(section(0, [...name('pad'), ...randomBytes(size - base.length - header)])),
  ]);
}

/** Runs `bytes` on `runtime`, counting how often the runtime asks for them (only on a cache miss). */
function runner(runtime: WasmRuntime) {
  const asked = new Map<string, number>();
  const run = async (bytes: Buffer) => {
    const moduleHash = sha256(bytes);
    const job: RuntimeJob = {
      moduleHash,
      bytes: () => {
        asked.set(moduleHash, (asked.get(moduleHash) ?? 0) + 1);
        return new Uint8Array(bytes);
      },
      stdin: Buffer.from('{"x":1}'),
      args: [],
      env: {},
      timeoutMs: 10_000,
      maxOutputBytes: 4096,
      deterministic: null,
    };
    const result = await runtime.run(job);
    expect(result.end).toBe('exited');
    return moduleHash;
  };
  return { run, asked: (bytes: Buffer) => asked.get(sha256(bytes)) ?? 0 };
}

const KB = 1024;

describe('compiled-module caches are bounded by bytes, least recently used out first', () => {
  const a = moduleOfSize(20 * KB);
  const b = moduleOfSize(20 * KB);
  const c = moduleOfSize(20 * KB);
  const small = Array.from({ length: 8 }, () => moduleOfSize(5 * KB));

  it('v8: a module that no longer fits evicts the least recently used, and the worker drops it', async () => {
    // Room for two of the 20 KB modules (charged 3 bytes per module byte), or eight of the 5 KB ones.
    const budget = 50 * KB * COMPILED_BYTES_PER_MODULE_BYTE;
    const sut = new V8Runtime({ poolSize: 1, cacheBytes: budget });
    const { run, asked } = runner(sut);
    try {
      await run(a);
      await run(b);
      await run(a); // a is now the most recently used
      await run(c); // over budget: b goes
      expect([sut.isCached(sha256(a)), sut.isCached(sha256(b)), sut.isCached(sha256(c))]).toEqual([
        true,
        false,
        true,
      ]);
      expect(sut.cacheStats.bytes).toBeLessThanOrEqual(budget);
      expect(asked(a)).toBe(1); // a was never compiled again
      await run(b);
      expect(asked(b)).toBe(2); // b was: evicted from the pool and its worker
      // The bound is bytes, not entries: eight small modules fit where three large ones did not.
      for (const bytes of small) await run(bytes);
      expect(small.every((bytes) => sut.isCached(sha256(bytes)))).toBe(true);
      expect(sut.cacheStats.entries).toBeGreaterThanOrEqual(8);
      expect(sut.cacheStats.bytes).toBeLessThanOrEqual(budget);
    } finally {
      await sut.close();
    }
  });

  it('v8: a module over the whole budget runs but is not kept', async () => {
    const sut = new V8Runtime({ poolSize: 1, cacheBytes: 10 * KB * COMPILED_BYTES_PER_MODULE_BYTE });
    const { run, asked } = runner(sut);
    try {
      await run(a);
      await run(a);
      expect(sut.isCached(sha256(a))).toBe(false);
      expect(sut.cacheStats).toEqual(expect.objectContaining({ entries: 0, bytes: 0 }));
      expect(asked(a)).toBe(2);
    } finally {
      await sut.close();
    }
  });

  it('wasmer: each worker keeps loaded packages within its share of the budget', async () => {
    // One worker; room for two 20 KB modules at (3 + 1) bytes per module byte.
    const sut = new WasmerRuntime({
      poolSize: 1,
      cacheBytes: 50 * KB * (COMPILED_BYTES_PER_MODULE_BYTE + 1),
    });
    const { run, asked } = runner(sut);
    try {
      await run(a);
      await run(b);
      await run(a);
      await run(c); // b goes
      await run(a);
      expect(asked(a)).toBe(1);
      await run(b);
      expect(asked(b)).toBe(2);
    } finally {
      await sut.close();
    }
  }, 60_000);
});
