import type { LightMyRequestResponse } from 'fastify';
import { WasmService } from '../../src/wasm/wasm.service';
import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, login, newSession, Session } from '../support/auth';
import { fixture } from '../support/wasm';
import { circuitPayload, zkFixture } from '../support/zk';

const ADMIN = { username: 'overload_admin', password: 'admin password 123' };

/** A 503 in the standard error format, with a Retry-After of whole seconds. */
function expectRefusal(res: LightMyRequestResponse, message: RegExp): void {
  expect(res.statusCode).toBe(503);
  const body = res.json<Record<string, unknown>>();
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'request_id']);
  expect(body).toEqual({
    error: 'service_unavailable',
    message: expect.stringMatching(message),
    request_id: res.headers['x-request-id'],
  });
  expect(res.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
}

/** Waits until `condition` holds, checking every 10 ms (at most `tries` times). */
async function until(condition: () => boolean, what: string, tries = 1000): Promise<void> {
  for (let i = 0; !condition(); i++) {
    if (i >= tries) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Issue 13, row 5 over HTTP: overload is a 503 with Retry-After in the error format, never `valid: false`. */
describe('a flood of valid proofs over HTTP', () => {
  const ctx = useTestApp({
    env: {
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      PROOF_WORKERS: '1',
      PROOF_VERIFY_TIMEOUT_MS: '300',
    },
  });

  it('answers each valid proof 200 valid:true or 503 + Retry-After, and stores none as invalid', async () => {
    const admin = await login(ctx.app, ADMIN.username, ADMIN.password);
    const registered = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: bearer(admin.access_token),
      payload: circuitPayload('multiplier', 'plonk'),
    });
    expect(registered.statusCode).toBe(201);
    const f = zkFixture('multiplier', 'plonk');
    const alice = await newSession(ctx.app, 'flood');
    const payload = {
      circuit_id: registered.json<{ circuit_id: string }>().circuit_id,
      proof: f.proof,
      public_signals: f.publicSignals,
    };

    const responses = await Promise.all(
      Array.from({ length: 150 }, () =>
        ctx.app.inject({
          method: 'POST',
          url: '/api/v1/proofs/verify',
          headers: apiKeyHeader(alice.apiKey),
          payload,
        }),
      ),
    );

    const verdicts = responses.filter((r) => r.statusCode === 200);
    const refusals = responses.filter((r) => r.statusCode !== 200);
    expect(verdicts.map((r) => r.json<{ valid: boolean }>().valid)).toEqual(verdicts.map(() => true));
    expect(refusals.length).toBeGreaterThan(0);
    for (const res of refusals) expectRefusal(res, /retry later/);
    const rows = await ctx.dataSource.query<{ verified: boolean; n: number }[]>(
      `SELECT verified, count(*)::int AS n FROM proof_artifacts WHERE submitted_by = $1 GROUP BY verified`,
      [alice.userId],
    );
    expect(rows).toEqual(verdicts.length > 0 ? [{ verified: true, n: verdicts.length }] : []);
  });
});

/**
 * Issue 13, row 6: one user's slow runs must not starve another user's trivial run. Two slots, so each user may
 * hold one (WASM_MAX_CONCURRENCY_PER_USER defaults to half); Alice's flood waits in her own lane, and a
 * flood past WASM_MAX_QUEUED_PER_USER is refused for her alone.
 */
describe('WASM runs shared fairly between users', () => {
  const ctx = useTestApp({
    env: {
      WASM_DEFAULT_RUNTIME: 'v8',
      WASM_MAX_CONCURRENCY: '2',
      WASM_MAX_QUEUED_PER_USER: '8',
      WASM_TIMEOUT_SECS: '5',
    },
  });
  let alice: Session;
  let bob: Session;
  let loopId: string;
  let tinyId: string;

  const upload = async (session: Session, bytes: Buffer) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...apiKeyHeader(session.apiKey), 'content-type': 'application/wasm' },
      payload: bytes,
    });
    expect([200, 201]).toContain(res.statusCode);
    return res.json<{ module_id: string }>().module_id;
  };
  const run = (session: Session, moduleId: string, body: Record<string, unknown>) =>
    ctx.app.inject({
      method: 'POST',
      url: `/api/v1/modules/${moduleId}/run`,
      headers: apiKeyHeader(session.apiKey),
      payload: { inputs: null, ...body },
    });

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'heavy');
    bob = await newSession(ctx.app, 'light');
    loopId = await upload(alice, fixture('loop'));
    tinyId = await upload(bob, fixture('tiny'));
    expect((await run(bob, tinyId, {})).json()).toMatchObject({ outcome: 'ok' }); // a worker is warm
  });

  it("runs Bob's trivial module while Alice's slow runs are still queued; her excess is refused, not his", async () => {
    const engine = ctx.app.get(WasmService);
    const floodSize = 12;
    let aliceRan = 0;
    const counted = (timeoutMs: number) =>
      run(alice, loopId, { timeout_ms: timeoutMs }).then((res) => {
        if (res.statusCode === 200) aliceRan++;
        return res;
      });
    // Her first run holds her one slot long enough for the rest to be admitted or refused however slowly the
    // requests arrive (with every run at 400 ms, a slow machine freed the slot mid-flood and admitted one more).
    const holder = counted(5000);
    await until(() => engine.stats.active === 1, 'alice holds her slot');
    const flood = [holder, ...Array.from({ length: floodSize - 1 }, () => counted(400))];
    // One of Alice's runs holds her slot, eight wait in her lane, three are refused.
    await until(() => engine.stats.queued === 8, 'alice has 8 runs waiting');

    const bobsRun = await run(bob, tinyId, {});
    const queuedWhenBobFinished = engine.stats.queued;
    const aliceRanWhenBobFinished = aliceRan;

    expect(bobsRun.statusCode).toBe(200);
    expect(bobsRun.json()).toMatchObject({ outcome: 'ok' });
    // Alice's queue had not drained: Bob took the slot she may not use, instead of waiting behind her nine
    // (at most the run she had going, and perhaps the next, ended meanwhile).
    expect(queuedWhenBobFinished).toBeGreaterThan(0);
    expect(aliceRanWhenBobFinished).toBeLessThanOrEqual(2);

    const results = await Promise.all(flood);
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses).toEqual([...Array(9).fill(200), 503, 503, 503]);
    for (const res of results.filter((r) => r.statusCode === 503)) {
      expectRefusal(res, /Too many of your runs are waiting/);
    }
    for (const res of results.filter((r) => r.statusCode === 200)) {
      expect(res.json()).toMatchObject({ outcome: 'timeout' });
    }
  });
});
