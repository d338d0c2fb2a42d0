import { useAdminApp } from '../support/admin';
import { scrape, valueOf } from '../support/prometheus';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { expect422 as expect422Reply } from '../support/validation';
import {
  b64,
  circuitPayload,
  createRun,
  createTask,
  FixtureCircuit,
  FixtureIds,
  FixtureProtocol,
  legacyVerifyBody,
  MALFORMED_SIGNAL_CASES,
  verifyBody,
  zkFixture,
} from '../support/zk';

/** base64 of `value`'s JSON padded with spaces to exactly `chars` base64 characters (a multiple of 4). */
const paddedB64 = (value: unknown, chars: number) =>
  Buffer.from(JSON.stringify(value).padEnd((chars / 4) * 3, ' ')).toString('base64');

type Fixture = readonly [FixtureCircuit, FixtureProtocol];
const ALL: Fixture[] = [
  ['multiplier', 'groth16'],
  ['multiplier', 'plonk'],
  ['multiplier', 'fflonk'],
  ['poseidon_preimage', 'groth16'],
  ['poseidon_preimage', 'plonk'],
];

/**
 * The real app with the fixture circuits registered over HTTP by an admin, and two users. The global body
 * limit is set far below the verify route's own, so the tests show which limit applies where.
 */
function proofApp(database: 'postgres' | 'pglite', fixtures: Fixture[]) {
  const ctx = useAdminApp({
    database,
    env: {
      PROOF_WORKERS: '1',
      BODY_LIMIT_BYTES: '16384',
    },
  });
  const ids: FixtureIds = {};
  const users = {} as { alice: Session; bob: Session };

  beforeAll(async () => {
    for (const [circuit, protocol] of fixtures) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/admin/circuits',
        headers: bearer(ctx.admin.accessToken),
        payload: circuitPayload(circuit, protocol),
      });
      expect(res.statusCode).toBe(201);
      ids[`${circuit}.${protocol}`] = res.json().circuit_id;
    }
    users.alice = await newSession(ctx.app, 'alice');
    users.bob = await newSession(ctx.app, 'bob');
  });

  /** POST /api/v1/proofs/verify; whatever the case, never a 5xx. */
  const verify = async (headers: Record<string, string>, payload: unknown) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/proofs/verify',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    if (res.statusCode >= 500) throw new Error(`verify answered ${res.statusCode}: ${res.body}`);
    return res;
  };
  const modern = (circuit: FixtureCircuit, protocol: FixtureProtocol, patch: Record<string, unknown> = {}) =>
    verifyBody(ids, circuit, protocol, patch);
  const expect422 = async (payload: unknown, field: string) =>
    expect422Reply(await verify(apiKeyHeader(users.alice.apiKey), payload), field);
  const artifacts = async () =>
    (await ctx.dataSource.query(`SELECT count(*)::int AS n FROM proof_artifacts`))[0].n as number;
  return { ctx, ids, users, verify, modern, expect422, artifacts };
}

describe('POST /api/v1/proofs/verify on PostgreSQL', () => {
  const { ctx, ids, users, verify, modern, expect422, artifacts } = proofApp('postgres', ALL);

  describe('acceptance 1: valid proofs verify and are stored', () => {
    it.each(ALL)('%s %s', async (circuit, protocol) => {
      const res = await verify(apiKeyHeader(users.alice.apiKey), modern(circuit, protocol));
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toEqual({
        valid: true,
        proof_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        circuit_id: ids[`${circuit}.${protocol}`],
        task_id: null,
        verified_at: expect.any(String),
        verification_time_ms: expect.any(Number),
        error_message: null,
      });
      const [row] = await ctx.dataSource.query(`SELECT * FROM proof_artifacts WHERE proof_id = $1`, [
        body.proof_id,
      ]);
      const f = zkFixture(circuit, protocol);
      expect(row).toMatchObject({
        verified: true,
        proof_system: protocol,
        circuit_id: body.circuit_id,
        submitted_by: users.alice.userId,
        task_id: null,
        error_message: null,
      });
      expect(JSON.parse((row.proof_data as Buffer).toString('utf8'))).toEqual(f.proof);
      expect(JSON.parse((row.public_inputs as Buffer).toString('utf8'))).toEqual(f.publicSignals);
      expect(new Date(row.verified_at).toISOString()).toBe(body.verified_at);
    });

    it('feeds proof_verification_duration_seconds{protocol, valid}', async () => {
      const count = async (protocol: string, valid: string) =>
        valueOf((await scrape(ctx.app)).samples, 'proof_verification_duration_seconds_count', {
          protocol,
          valid,
        });
      const before = { valid: await count('plonk', 'true'), invalid: await count('plonk', 'false') };
      expect(
        (await verify(apiKeyHeader(users.alice.apiKey), modern('multiplier', 'plonk'))).json().valid,
      ).toBe(true);
      const forged = modern('multiplier', 'plonk', { public_signals: ['34', '11'] });
      expect((await verify(apiKeyHeader(users.alice.apiKey), forged)).json().valid).toBe(false);
      expect((await count('plonk', 'true')) - before.valid).toBe(1);
      expect((await count('plonk', 'false')) - before.invalid).toBe(1);
    });

    it("accepts the original's base64 form at its full caps, far above BODY_LIMIT_BYTES", async () => {
      const task = await createTask(ctx.dataSource, users.alice.userId, ids['multiplier.groth16']);
      const f = zkFixture('multiplier', 'groth16');
      const payload = legacyVerifyBody(
        task,
        ids['multiplier.groth16'],
        paddedB64(f.proof, 100 * 1024),
        paddedB64(f.publicSignals, 10 * 1024),
      );
      expect(JSON.stringify(payload).length).toBeGreaterThan(16384 * 6);
      const res = await verify(bearer(users.alice.accessToken), payload);
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ valid: true, task_id: task });
      const [row] = await ctx.dataSource.query(`SELECT task_id FROM proof_artifacts WHERE proof_id = $1`, [
        res.json().proof_id,
      ]);
      expect(row.task_id).toBe(task);
    });

    it("a run of the caller's task records the run and its task", async () => {
      const task = await createTask(ctx.dataSource, users.alice.userId, ids['multiplier.plonk']);
      const run = await createRun(ctx.dataSource, task);
      const res = await verify(
        apiKeyHeader(users.alice.apiKey),
        modern('multiplier', 'plonk', { run_id: run }),
      );
      expect(res.json()).toMatchObject({ valid: true, task_id: task });
    });

    it('binds a proof only to a zk_proof task of its own circuit (422 naming task_id or run_id, nothing stored)', async () => {
      const other = await createTask(ctx.dataSource, users.alice.userId, ids['multiplier.plonk']);
      const otherRun = await createRun(ctx.dataSource, other);
      const [{ task_id: computation }] = await ctx.dataSource.query(
        `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec) VALUES ($1, 'computation', 60)
         RETURNING task_id`,
        [users.alice.userId],
      );
      const before = await artifacts();
      const alice = apiKeyHeader(users.alice.apiKey);
      for (const [patch, field, message] of [
        [
          { task_id: other },
          'task_id',
          "names a task of another circuit: a proof is bound to its circuit's tasks",
        ],
        [
          { run_id: otherRun },
          'run_id',
          "names a task of another circuit: a proof is bound to its circuit's tasks",
        ],
        [
          { task_id: computation },
          'task_id',
          'names a computation task: a proof is bound to a zk_proof task',
        ],
      ] as const) {
        const res = await verify(alice, modern('multiplier', 'groth16', patch));
        expect({ field, status: res.statusCode, details: res.json().details }).toEqual({
          field,
          status: 422,
          details: [{ field, message }],
        });
      }
      expect(await artifacts()).toBe(before);
      // Its own circuit's task (the control): bound.
      const own = await createTask(ctx.dataSource, users.alice.userId, ids['multiplier.groth16']);
      expect((await verify(alice, modern('multiplier', 'groth16', { task_id: own }))).json()).toMatchObject({
        valid: true,
        task_id: own,
      });
    });
  });

  describe('acceptance 2: every rejection is a 422 or valid:false, never a 5xx', () => {
    it.each(['groth16', 'plonk'] as const)(
      '%s: one public signal changed → 200 valid:false, stored',
      async (p) => {
        const before = await artifacts();
        const res = await verify(
          apiKeyHeader(users.alice.apiKey),
          modern('multiplier', p, { public_signals: ['34', '11'] }),
        );
        expect(res.statusCode).toBe(200);
        expect(res.json()).toMatchObject({
          valid: false,
          error_message: expect.stringMatching(/does not verify/),
        });
        expect(await artifacts()).toBe(before + 1);
      },
    );

    it.each(['groth16', 'plonk'] as const)(
      '%s: every malformed signal list → 422 naming the field',
      async (p) => {
        const before = await artifacts();
        for (const [, signals, field] of MALFORMED_SIGNAL_CASES) {
          await expect422(modern('multiplier', p, { public_signals: signals }), field);
        }
        expect(await artifacts()).toBe(before);
      },
    );

    it("checked against another circuit's id → 422", async () => {
      await expect422(
        modern('multiplier', 'groth16', { circuit_id: ids['poseidon_preimage.groth16'] }),
        'public_signals',
      );
      await expect422(
        modern('poseidon_preimage', 'plonk', { circuit_id: ids['multiplier.plonk'] }),
        'public_signals',
      );
    });

    it('a proof of the other protocol → 422', async () => {
      const plonk = zkFixture('multiplier', 'plonk').proof;
      await expect422(modern('multiplier', 'groth16', { proof: plonk }), 'proof.protocol');
      await expect422(
        modern('multiplier', 'groth16', { proof: { ...plonk, protocol: 'groth16' } }),
        'proof.A',
      );
      const groth = zkFixture('multiplier', 'groth16').proof;
      await expect422(modern('multiplier', 'plonk', { proof: groth }), 'proof.protocol');
    });

    it('garbage JSON → 422 inside the request; a body that is not JSON at all → 400', async () => {
      const task = await createTask(ctx.dataSource, users.alice.userId, ids['multiplier.groth16']);
      const legacy = (proofData: string, publicInputs?: string) =>
        legacyVerifyBody(task, ids['multiplier.groth16'], proofData, publicInputs);
      await expect422(legacy(Buffer.from('{"pi_a": [').toString('base64')), 'proof_data');
      await expect422(legacy(b64(zkFixture('multiplier', 'groth16').proof), 'not base64!'), 'public_inputs');
      // A part of the decoded JSON is named under the field the caller sent, not the modern form's.
      await expect422(
        legacy(b64(zkFixture('multiplier', 'groth16').proof), b64([33, 11])),
        'public_inputs[0]',
      );
      await expect422(legacy(b64([])), 'proof_data');
      await expect422(
        legacy(b64({ ...zkFixture('multiplier', 'groth16').proof, curve: 'x' })),
        'proof_data.curve',
      );
      await expect422(modern('multiplier', 'groth16', { proof: 'garbage' }), 'proof');
      await expect422(modern('multiplier', 'groth16', { proof: [1, 2] }), 'proof');
      // The API-wide rule: a body that does not parse as JSON is bad_request (README, HTTP conventions).
      const raw = await verify(apiKeyHeader(users.alice.apiKey), '{"circuit_id": ');
      expect({ status: raw.statusCode, error: raw.json().error }).toEqual({
        status: 400,
        error: 'bad_request',
      });
    });

    it('oversized base64 → 422 within the route limit, 413 beyond it', async () => {
      const task = await createTask(ctx.dataSource, users.alice.userId, ids['multiplier.groth16']);
      const id = ids['multiplier.groth16'];
      const ok = b64(zkFixture('multiplier', 'groth16').proof);
      const big = (proofData: string, publicInputs?: string) =>
        legacyVerifyBody(task, id, proofData, publicInputs);
      await expect422(big('A'.repeat(100 * 1024 + 4)), 'proof_data');
      await expect422(big(ok, 'A'.repeat(10 * 1024 + 4)), 'public_inputs');
      const tooBig = await verify(apiKeyHeader(users.alice.apiKey), big('A'.repeat(512 * 1024)));
      expect({ status: tooBig.statusCode, error: tooBig.json().error }).toEqual({
        status: 413,
        error: 'payload_too_large',
      });
    });

    it('request-level mistakes → 422; an unknown circuit → 404', async () => {
      await expect422(modern('multiplier', 'groth16', { circuit_id: 'ABC' }), 'circuit_id');
      await expect422(modern('multiplier', 'groth16', { task_id: 'nope' }), 'task_id');
      await expect422(modern('multiplier', 'groth16', { surprise: 1 }), 'surprise');
      await expect422(
        { circuit_id: ids['multiplier.groth16'], proof_data: b64({}), public_inputs: b64([]) },
        'task_id',
      );
      const missing = await verify(
        apiKeyHeader(users.alice.apiKey),
        modern('multiplier', 'groth16', { circuit_id: 'a'.repeat(64) }),
      );
      expect({ status: missing.statusCode, error: missing.json().error }).toEqual({
        status: 404,
        error: 'not_found',
      });
    });
  });

  describe('who may verify what', () => {
    it("another user's task or run is a 404, like an unknown task, and nothing is stored", async () => {
      const bobsTask = await createTask(ctx.dataSource, users.bob.userId, ids['multiplier.groth16']);
      const bobsRun = await createRun(ctx.dataSource, bobsTask);
      const before = await artifacts();
      for (const [patch, message] of [
        [{ task_id: bobsTask }, 'Task not found'],
        [{ task_id: '00000000-0000-4000-8000-000000000000' }, 'Task not found'],
        [{ run_id: bobsRun }, 'Task run not found'],
        [{ run_id: '00000000-0000-4000-8000-000000000000' }, 'Task run not found'],
      ] as const) {
        const res = await verify(apiKeyHeader(users.alice.apiKey), modern('multiplier', 'groth16', patch));
        // Another user's task or run is answered word for word as an unknown one.
        expect({
          patch,
          status: res.statusCode,
          error: res.json().error,
          message: res.json().message,
        }).toEqual({
          patch,
          status: 404,
          error: 'not_found',
          message,
        });
      }
      const legacy = await verify(
        bearer(users.alice.accessToken),
        legacyVerifyBody(bobsTask, ids['multiplier.groth16'], b64(zkFixture('multiplier', 'groth16').proof)),
      );
      expect(legacy.statusCode).toBe(404);
      expect(await artifacts()).toBe(before);
      // Bob himself may.
      const own = await verify(
        apiKeyHeader(users.bob.apiKey),
        modern('multiplier', 'groth16', { task_id: bobsTask }),
      );
      expect(own.json()).toMatchObject({ valid: true, task_id: bobsTask });
    });

    it('anonymous → 401; a key without proofs:write → 403', async () => {
      const anonymous = await verify({}, modern('multiplier', 'groth16'));
      expect({ status: anonymous.statusCode, error: anonymous.json().error }).toEqual({
        status: 401,
        error: 'unauthorized',
      });
      const minted = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: bearer(users.alice.accessToken),
        payload: { name: 'reader', scopes: ['tasks:read', 'tasks:write', 'nodes:read'] },
      });
      const res = await verify(apiKeyHeader(minted.json().api_key), modern('multiplier', 'groth16'));
      expect({ status: res.statusCode, error: res.json().error }).toEqual({
        status: 403,
        error: 'forbidden',
      });
    });

    it('other routes keep BODY_LIMIT_BYTES', async () => {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: bearer(users.alice.accessToken),
        payload: { name: 'x'.repeat(20_000), scopes: ['tasks:read'] },
      });
      expect({ status: res.statusCode, error: res.json().error }).toEqual({
        status: 413,
        error: 'payload_too_large',
      });
    });
  });
});

describe('POST /api/v1/proofs/verify on PGlite', () => {
  const FEW: Fixture[] = [
    ['multiplier', 'groth16'],
    ['multiplier', 'plonk'],
  ];
  const { ctx, ids, users, verify, modern, expect422, artifacts } = proofApp('pglite', FEW);

  it('verifies, refuses and stores as on PostgreSQL', async () => {
    for (const [circuit, protocol] of FEW) {
      const res = await verify(apiKeyHeader(users.alice.apiKey), modern(circuit, protocol));
      expect(res.json()).toMatchObject({ valid: true, error_message: null });
      const changed = await verify(
        bearer(users.alice.accessToken),
        modern(circuit, protocol, { public_signals: ['34', '11'] }),
      );
      expect(changed.json()).toMatchObject({ valid: false });
      await expect422(modern(circuit, protocol, { public_signals: ['033', '11'] }), 'public_signals[0]');
    }
    const bobsTask = await createTask(ctx.dataSource, users.bob.userId, ids['multiplier.groth16']);
    const stolen = await verify(
      apiKeyHeader(users.alice.apiKey),
      modern('multiplier', 'groth16', { task_id: bobsTask }),
    );
    expect(stolen.statusCode).toBe(404);
    const rows = await ctx.dataSource.query(
      `SELECT verified FROM proof_artifacts WHERE submitted_by = $1 ORDER BY created_at`,
      [users.alice.userId],
    );
    expect(rows.map((r: { verified: boolean }) => r.verified)).toEqual([true, false, true, false]);
    expect(await artifacts()).toBe(4);
  });
});
