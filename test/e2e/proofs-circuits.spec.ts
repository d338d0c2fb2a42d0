import { createHash } from 'node:crypto';
import { loginAdmin, TEST_ADMIN, useAdminApp } from '../support/admin';
import { bootApp } from '../support/app';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { expect422 } from '../support/validation';
import { circuitPayload, zkFixture } from '../support/zk';
const CAP = 64 * 1024;

/** An independent canonicalisation (sorted keys, no whitespace), as in the registry's integration test. */
function referenceCircuitId(vkey: unknown): string {
  const keys = new Set<string>();
  JSON.stringify(vkey, (key, value: unknown) => (keys.add(key), value));
  const canonical = JSON.stringify(vkey, [...keys].filter((k) => k !== '').sort());
  return createHash('sha256').update(canonical).digest('hex');
}

/** The same object with every key order reversed, at every depth. */
function reversedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reversedKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reversedKeys(v)]),
  );
}

describe('circuit registry over HTTP', () => {
  const ctx = useAdminApp({
    env: {
      PROOF_WORKERS: '1',
      // Uploads far above the global limit must still pass on their own route; small caps keep the
      // over-cap cases quick to send.
      BODY_LIMIT_BYTES: '16384',
      CIRCUIT_WASM_MAX_BYTES: String(CAP),
      CIRCUIT_ZKEY_MAX_BYTES: String(CAP),
    },
  });
  let adminToken: string;
  let user: Session;

  beforeAll(async () => {
    adminToken = ctx.admin.accessToken;
    user = await newSession(ctx.app, 'circuits');
  });

  const post = async (headers: Record<string, string>, payload: unknown) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: { 'content-type': 'application/json', ...headers },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
    if (res.statusCode >= 500) throw new Error(`registration answered ${res.statusCode}: ${res.body}`);
    return res;
  };
  const get = (url: string, headers: Record<string, string>) =>
    ctx.app.inject({ method: 'GET', url: `/api/v1${url}`, headers });

  it('registers (201), re-registers the same key (200, same id), id = SHA-256 of the canonical key, audited', async () => {
    const f = zkFixture('multiplier', 'groth16');
    const first = await post(bearer(adminToken), circuitPayload('multiplier', 'groth16', { wasm: true }));
    expect(first.statusCode).toBe(201);
    const circuit = first.json();
    expect(circuit).toEqual({
      circuit_id: referenceCircuitId(f.vkey),
      name: 'multiplier groth16',
      protocol: 'groth16',
      curve: 'bn128',
      n_public: 2,
      verification_key: f.vkey,
      wasm_sha256: createHash('sha256').update(f.wasm).digest('hex'),
      wasm_size: f.wasm.length,
      zkey_sha256: null,
      zkey_size: null,
      created_at: expect.any(String),
      retired_at: null,
      already_existed: false,
    });
    // The same key with every object's keys reversed and indented: the same circuit, nothing changed.
    const respelled = JSON.stringify(
      { name: 'renamed', protocol: 'groth16', verification_key: reversedKeys(f.vkey) },
      null,
      2,
    );
    const again = await post(bearer(adminToken), respelled);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ ...circuit, already_existed: true });

    const rows = await ctx.dataSource.query(
      `SELECT a.user_id, a.status, a.resource_type, a.resource_id, a.request_id, a.metadata
       FROM audit_log a JOIN users u ON u.user_id = a.user_id
       WHERE a.action = 'circuit.registered' AND u.username = $1 AND a.resource_id = $2
       ORDER BY a.created_at`,
      [TEST_ADMIN.username, circuit.circuit_id],
    );
    expect(rows.map((r: any) => [r.request_id, r.metadata.already_existed])).toEqual([
      [first.headers['x-request-id'], false],
      [again.headers['x-request-id'], true],
    ]);
    // The row names the circuit as stored, and the name that second request gave beside it.
    expect(rows[1].metadata).toMatchObject({ name: circuit.name, name_given: 'renamed' });
    expect(rows[0]).toMatchObject({ status: 'success', resource_type: 'circuit' });
  });

  it('registering a known key again adds the wasm or zkey it lacked, and refuses different ones (409)', async () => {
    const f = zkFixture('multiplier', 'groth16');
    // Registered with its wasm only (here, or by the first test).
    const bare = await post(bearer(adminToken), circuitPayload('multiplier', 'groth16', { wasm: true }));
    expect(bare.json()).toMatchObject({ zkey_sha256: null });
    const completed = await post(bearer(adminToken), circuitPayload('multiplier', 'groth16', { zkey: true }));
    expect(completed.statusCode).toBe(200);
    expect(completed.json()).toMatchObject({
      circuit_id: bare.json().circuit_id,
      already_existed: true,
      wasm_sha256: createHash('sha256').update(f.wasm).digest('hex'),
      zkey_sha256: createHash('sha256').update(f.zkey).digest('hex'),
    });
    // The artifacts a circuit has do not change: another zkey for the same key is refused, nothing changes.
    const refused = await post(bearer(adminToken), {
      ...circuitPayload('multiplier', 'groth16'),
      zkey: Buffer.concat([f.zkey, Buffer.from([0])]).toString('base64'),
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error).toBe('conflict');
    expect((await get(`/circuits/${bare.json().circuit_id}`, bearer(user.accessToken))).json()).toMatchObject(
      {
        zkey_sha256: createHash('sha256').update(f.zkey).digest('hex'),
      },
    );
  });

  it('refuses a zkey that does not belong to the verification key, or that snarkjs cannot read (422 zkey)', async () => {
    // The multiplier's PLONK key with its Groth16 proving key: every proof made with it would fail.
    const foreign = await post(bearer(adminToken), {
      ...circuitPayload('multiplier', 'plonk'),
      zkey: zkFixture('multiplier', 'groth16').zkey.toString('base64'),
    });
    expect(foreign.statusCode).toBe(422);
    expect(foreign.json().details).toEqual([
      { field: 'zkey', message: expect.stringContaining('belongs to another verification key') },
    ]);
    const garbage = Buffer.concat([Buffer.from('zkey'), Buffer.alloc(64, 7)]);
    const unreadable = await post(bearer(adminToken), {
      ...circuitPayload('multiplier', 'plonk'),
      zkey: garbage.toString('base64'),
    });
    expect(unreadable.statusCode).toBe(422);
    expect(unreadable.json().details[0]).toMatchObject({ field: 'zkey' });
  });

  it('any authenticated caller reads circuits (name, protocol, n_public, key); unknown → 404', async () => {
    const plonk = await post(bearer(adminToken), circuitPayload('multiplier', 'plonk', { zkey: true }));
    expect(plonk.statusCode).toBe(201);
    const id = plonk.json().circuit_id as string;
    for (const headers of [bearer(user.accessToken), apiKeyHeader(user.apiKey)]) {
      const one = await get(`/circuits/${id}`, headers);
      expect(one.statusCode).toBe(200);
      expect(one.json()).toMatchObject({
        circuit_id: id,
        name: 'multiplier plonk',
        protocol: 'plonk',
        n_public: 2,
        verification_key: zkFixture('multiplier', 'plonk').vkey,
        zkey_size: zkFixture('multiplier', 'plonk').zkey.length,
      });
    }
    for (const missing of ['a'.repeat(64), 'not-a-circuit', 'A'.repeat(64)]) {
      const res = await get(`/circuits/${missing}`, bearer(user.accessToken));
      expect({ status: res.statusCode, error: res.json().error }).toEqual({
        status: 404,
        error: 'not_found',
      });
    }
    expect((await get(`/circuits/${id}`, {})).statusCode).toBe(401);
    expect((await get('/circuits', {})).statusCode).toBe(401);
  });

  it('lists circuits with cursor pages', async () => {
    const mine = [
      await post(bearer(adminToken), circuitPayload('poseidon_preimage', 'groth16')),
      await post(bearer(adminToken), circuitPayload('poseidon_preimage', 'plonk')),
    ].map((res) => res.json().circuit_id as string);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await get(
        `/circuits?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
        apiKeyHeader(user.apiKey),
      );
      expect(page.statusCode).toBe(200);
      const body = page.json();
      expect(body.items.length).toBeLessThanOrEqual(1);
      seen.push(...body.items.map((c: { circuit_id: string }) => c.circuit_id));
      cursor = body.next_cursor;
    } while (cursor);
    const [{ n }] = await ctx.dataSource.query(`SELECT count(*)::int AS n FROM circuits`);
    expect(seen).toHaveLength(n);
    expect(new Set(seen).size).toBe(n);
    expect(seen).toEqual(expect.arrayContaining(mine)); // so at least two pages were walked
    expect422(await get('/circuits?cursor=bm90LWpzb24', bearer(user.accessToken)), 'cursor');
    expect422(await get('/circuits?limit=101', bearer(user.accessToken)), 'limit');
  });

  it('acceptance 6: only an admin credential with admin:circuits registers (403 otherwise, 401 anonymous)', async () => {
    const payload = circuitPayload('multiplier', 'fflonk');
    const adminKey = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(adminToken),
      payload: { name: 'users only', scopes: ['admin:users', 'admin:audit', 'proofs:write'] },
    });
    for (const headers of [
      bearer(user.accessToken),
      apiKeyHeader(user.apiKey),
      apiKeyHeader(adminKey.json().api_key),
    ]) {
      const res = await post(headers, payload);
      expect({ status: res.statusCode, error: res.json().error }).toEqual({
        status: 403,
        error: 'forbidden',
      });
    }
    expect((await post({}, payload)).statusCode).toBe(401);
    const [{ n }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM circuits WHERE protocol = 'fflonk'`,
    );
    expect(n).toBe(0);
  });

  it('refuses bad keys and uploads with 422 naming the field', async () => {
    const groth = zkFixture('multiplier', 'groth16').vkey;
    const plonk = zkFixture('multiplier', 'plonk').vkey;
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x', protocol: 'groth16', verification_key: plonk }, 'verification_key.protocol'],
      [
        { name: 'x', protocol: 'groth16', verification_key: { ...groth, curve: 'bls12381' } },
        'verification_key.curve',
      ],
      [{ name: 'x', protocol: 'marlin', verification_key: groth }, 'protocol'],
      [{ name: '', protocol: 'groth16', verification_key: groth }, 'name'],
      [{ name: 'x', protocol: 'groth16' }, 'verification_key'],
      [{ name: 'x', protocol: 'groth16', verification_key: groth, owner: 'me' }, 'owner'],
      [{ name: 'x', protocol: 'groth16', verification_key: groth, wasm: 'not base64!' }, 'wasm'],
      [
        {
          name: 'x',
          protocol: 'groth16',
          verification_key: groth,
          wasm: Buffer.from('MZ').toString('base64'),
        },
        'wasm',
      ],
      [{ name: 'x', protocol: 'groth16', verification_key: groth, zkey: 12 }, 'zkey'],
    ];
    for (const [payload, field] of cases) expect422(await post(bearer(adminToken), payload), field);
  });

  it('an upload over its cap is a 422 under the route limit and a 413 over it, never a 500', async () => {
    const vkey = zkFixture('multiplier', 'plonk').vkey;
    const zkeyOf = (bytes: number) => Buffer.concat([Buffer.from('zkey'), Buffer.alloc(bytes - 4)]);
    const overCap = await post(bearer(adminToken), {
      name: 'big',
      protocol: 'plonk',
      verification_key: vkey,
      zkey: zkeyOf(CAP + 1).toString('base64'),
    });
    expect422(overCap, 'zkey');
    // The route admits both uploads at their caps plus a large key: 4/3 × 2 × CAP + 1 MiB + 64 KiB.
    const tooLarge = await post(bearer(adminToken), {
      name: 'huge',
      protocol: 'plonk',
      verification_key: vkey,
      zkey: zkeyOf(1024 * 1024).toString('base64'),
    });
    expect({ status: tooLarge.statusCode, error: tooLarge.json().error }).toEqual({
      status: 413,
      error: 'payload_too_large',
    });
    // The global limit still applies to admin routes that carry no limit of their own.
    const patch = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/users/${user.userId}`,
      headers: bearer(adminToken),
      payload: { role: 'user', pad: 'x'.repeat(20_000) },
    });
    expect(patch.statusCode).toBe(413);
  });

  it('lists the routes in the OpenAPI document with their schemas and requirements', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    const register = doc.paths['/api/v1/admin/circuits'].post;
    expect(register.requestBody.content['application/json'].schema).toEqual(ref('RegisterCircuitDto'));
    expect(register.responses['201'].content['application/json'].schema).toEqual(ref('RegisteredCircuitDto'));
    expect(register.responses['200'].content['application/json'].schema).toEqual(ref('RegisteredCircuitDto'));
    expect(register['x-required-roles']).toEqual(['admin']);
    expect(register['x-required-scopes']).toEqual(['admin:circuits']);
    expect(doc.paths['/api/v1/circuits'].get.responses['200'].content['application/json'].schema).toEqual(
      ref('CircuitPageDto'),
    );
    const one = doc.paths['/api/v1/circuits/{circuit_id}'].get;
    expect(one.responses['200'].content['application/json'].schema).toEqual(ref('CircuitDto'));
    expect(one['x-required-scopes']).toEqual([]);
    const verify = doc.paths['/api/v1/proofs/verify'].post;
    expect(verify.requestBody.content['application/json'].schema).toEqual({
      oneOf: [ref('VerifyProofRequestDto'), ref('LegacyVerifyProofRequestDto')],
    });
    expect(verify.responses['200'].content['application/json'].schema).toEqual(ref('VerifyProofResultDto'));
    expect(verify['x-required-scopes']).toEqual(['proofs:write']);
    for (const name of [
      'RegisterCircuitDto',
      'CircuitDto',
      'VerifyProofRequestDto',
      'VerifyProofResultDto',
    ]) {
      expect(Object.keys(doc.components.schemas[name].properties).length).toBeGreaterThan(3);
    }
    // Every list route documents the same page: items of its own DTO and a nullable `next_cursor`.
    for (const [page, item] of [
      ['CircuitPageDto', 'CircuitDto'],
      ['AdminUserPageDto', 'AdminUserDto'],
      ['AuditPageDto', 'AuditEntryDto'],
    ]) {
      expect({ page, ...doc.components.schemas[page] }).toEqual({
        page,
        type: 'object',
        properties: {
          items: { type: 'array', items: ref(item) },
          next_cursor: { type: 'string', nullable: true, description: expect.any(String) },
        },
        required: ['items', 'next_cursor'],
      });
    }
    expect(doc.components.schemas.LegacyVerifyProofRequestDto.required).toEqual(
      expect.arrayContaining(['task_id', 'circuit_id', 'proof_data', 'public_inputs']),
    );
  });

  // Last: a second app on the same database takes over passport's process-global strategies.
  it('acceptance 6: the id is stable across a restart', async () => {
    const f = zkFixture('multiplier', 'groth16');
    const id = referenceCircuitId(f.vkey);
    // Registered here (201), or already by the first test (200): either way it is stored before the restart.
    const registered = await post(bearer(adminToken), circuitPayload('multiplier', 'groth16'));
    expect([200, 201]).toContain(registered.statusCode);
    expect(registered.json().circuit_id).toBe(id);
    const restarted = await bootApp(ctx.env.config);
    try {
      const token = (await loginAdmin(restarted)).accessToken;
      const read = await restarted.inject({
        method: 'GET',
        url: `/api/v1/circuits/${id}`,
        headers: bearer(token),
      });
      expect(read.json()).toMatchObject({ circuit_id: id, verification_key: f.vkey });
      const again = await restarted.inject({
        method: 'POST',
        url: '/api/v1/admin/circuits',
        headers: bearer(token),
        payload: circuitPayload('multiplier', 'groth16'),
      });
      expect({ status: again.statusCode, id: again.json().circuit_id }).toEqual({ status: 200, id });
    } finally {
      await restarted.close();
    }
  });
});
