import { ConnectionDraining } from '../../src/common/http/connection-draining';
import { WasmService } from '../../src/wasm/wasm.service';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { fixture, sha256 } from '../support/wasm';

const SHUTTING_DOWN = {
  error: 'service_unavailable',
  reason: 'shutting_down',
  message: expect.stringContaining('shutting down'),
  request_id: expect.any(String),
};

/**
 * Draining inside the app (main.ts begins it on SIGTERM): what new requests get, and a module run still going
 * at the cutoff. The real process and its exit are in server-shutdown.spec.ts.
 */
describe('draining before shutdown', () => {
  // The cutoff comes 1.5 s after draining begins (the deadline less a quarter of it).
  const ctx = useTestApp({ env: { SHUTDOWN_TIMEOUT_MS: '2000', WASM_TIMEOUT_SECS: '30' } });
  let alice: Session;
  const loop = fixture('loop');

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'draining');
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...bearer(alice.accessToken), 'content-type': 'application/wasm' },
      payload: loop,
    });
    expect(upload.statusCode).toBe(201);
  });

  const runLoop = () =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/modules/${sha256(loop)}/run`,
      headers: bearer(alice.accessToken),
      payload: { inputs: null, timeout_ms: 20_000, runtime: 'v8' },
    });

  it('answers new requests 503 shutting_down with Retry-After, and stops a run still going at the cutoff', async () => {
    const health = () => ctx.app.inject({ method: 'GET', url: '/api/v1/health' });
    expect((await health()).statusCode).toBe(200);
    const running = runLoop();
    await eventually(() => expect(ctx.app.get(WasmService).stats.active).toBe(1));

    ctx.app.get(ConnectionDraining).begin();
    for (const res of [await health(), await runLoop()]) {
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers.connection).toBe('close');
      expect(res.json()).toEqual(SHUTTING_DOWN);
    }

    // Without the cutoff it would spin for 20 s and answer 200 with outcome `timeout`.
    const cut = await running;
    expect(cut.statusCode).toBe(503);
    expect(cut.headers['retry-after']).toBe('1');
    expect(cut.json()).toEqual({ ...SHUTTING_DOWN, message: expect.stringContaining('the run was stopped') });
    expect(ctx.app.get(WasmService).stats).toEqual({ active: 0, queued: 0 });
  }, 30_000);
});
