import { largestNestedLoopsModule, nestedLoopsModule } from '../../bench/support/wasm-shapes';
import { ModuleChecker } from '../../src/wasm/module-checker';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { sha256, uniqueFixture } from '../support/wasm';

/**
 * Issue 13, rows 1 and 2 at the HTTP surface: a module over a structural limit is a 422 naming the limit;
 * the largest module of the same shape the limits allow is stored and runs; known bytes are recognised by
 * their hash without being parsed again.
 */
describe('module structural limits over HTTP', () => {
  const ctx = useTestApp({
    env: {
      WASM_MAX_MODULE_BYTES: String(256 * 1024),
      WASM_MAX_NESTING_DEPTH: '256',
      WASM_MAX_FUNCTION_BYTES: String(64 * 1024),
      WASM_MAX_LOOP_STATE: '20000',
      WASM_DEFAULT_RUNTIME: 'v8',
      WASM_TIMEOUT_SECS: '10',
    },
  });
  let alice: Session;
  let checker: ModuleChecker;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'limits');
    checker = ctx.app.get(ModuleChecker);
  });

  const upload = (bytes: Buffer) =>
    ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(alice.accessToken), 'content-type': 'application/wasm' },
      payload: bytes,
    });

  it('refuses the issue’s module shape (nested loops past WASM_MAX_NESTING_DEPTH) with a 422 naming it', async () => {
    const res = await upload(nestedLoopsModule({ depth: 20_000 })); // 60 KB, under the size caps
    expect(res.statusCode).toBe(422);
    const body = res.json<{
      error: string;
      message: string;
      details: { field: string; message: string }[];
    }>();
    expect(body.error).toBe('validation_error');
    expect(body.details[0].field).toBe('wasm_module');
    expect(body.message).toContain('WASM_MAX_NESTING_DEPTH');
  });

  it('stores and runs the largest module of that shape the limits allow', async () => {
    const { bytes, shape } = largestNestedLoopsModule({
      maxNestingDepth: 256,
      maxFunctionBytes: 64 * 1024,
      maxLoopState: 20_000,
      maxModuleBytes: 256 * 1024,
    });
    expect(shape.depth).toBe(256);
    expect(shape.functions).toBeGreaterThan(1);
    const stored = await upload(bytes);
    expect(stored.statusCode).toBe(201);
    const run = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/modules/${sha256(bytes)}/run`,
      headers: bearer(alice.accessToken),
      payload: { inputs: null },
    });
    expect(run.statusCode).toBe(200);
    expect(run.json<{ outcome: string }>().outcome).toBe('ok');
  });

  it('recognises re-uploaded bytes by their hash: 200, the same module, and nothing parsed', async () => {
    const bytes = uniqueFixture('echo');
    const first = await upload(bytes);
    expect(first.statusCode).toBe(201);
    const parsedAfterFirst = checker.checks;
    expect(parsedAfterFirst).toBeGreaterThan(0); // the first upload was parsed (so the counter counts)
    const again = await upload(bytes);
    expect(again.statusCode).toBe(200);
    expect(again.json<{ module_id: string }>().module_id).toBe(sha256(bytes));
    expect(checker.checks).toBe(parsedAfterFirst);
  });
});
