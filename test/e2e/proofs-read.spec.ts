import { randomUUID } from 'node:crypto';
import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { registerNode } from '../support/nodes';
import { postFixtureProof, registerCircuit, zkFixture } from '../support/zk';

/**
 * GET /proofs/:proof_id: a verification's `proof_id` reads back as stored, for whoever may see it. On PGlite,
 * which answers bytea as a Uint8Array (node-postgres: a Buffer); scheduling-zk.spec.ts reads a task's proof on
 * PostgreSQL.
 */
describe('GET /api/v1/proofs/:proof_id', () => {
  const ctx = useAdminApp({ database: 'pglite', env: { PROOF_WORKERS: '1' } });
  let alice: Session;
  let bob: Session;
  let groth16: string;
  let plonk: string;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
    groth16 = await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', 'groth16');
    plonk = await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', 'plonk');
  });

  const read = (proofId: string, headers: Record<string, string>) =>
    ctx.app.inject({ method: 'GET', url: `/api/v1/proofs/${proofId}`, headers });

  it('answers the verdict, the proof and the signals as verified, to its verifier and to admins', async () => {
    const f = zkFixture('multiplier', 'plonk');
    const verified = await postFixtureProof(
      ctx.app,
      apiKeyHeader(alice.apiKey),
      plonk,
      'multiplier',
      'plonk',
    );
    expect(verified.statusCode).toBe(200);
    const { proof_id, verified_at, verification_time_ms } = verified.json();

    const mine = await read(proof_id, bearer(alice.accessToken));
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toEqual({
      proof_id,
      circuit_id: plonk,
      proof_system: 'plonk',
      valid: true,
      task_id: null,
      run_id: null,
      verified_at,
      verification_time_ms,
      error_message: null,
      proof: f.proof,
      public_signals: f.publicSignals,
    });
    // Any credential of the owner's, whatever its scopes (a proof is the user's own data, as tasks are).
    const narrow = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(alice.accessToken),
      payload: { name: 'reader', scopes: ['nodes:read'] },
    });
    expect((await read(proof_id, apiKeyHeader(narrow.json().api_key))).statusCode).toBe(200);
    expect((await read(proof_id, bearer(ctx.admin.accessToken))).json()).toEqual(mine.json());
  });

  it('a proof that did not verify reads back with its reason', async () => {
    const refused = await postFixtureProof(
      ctx.app,
      bearer(alice.accessToken),
      groth16,
      'multiplier',
      'groth16',
      {
        public_signals: ['34', '11'],
      },
    );
    expect(refused.json()).toMatchObject({ valid: false });
    const stored = await read(refused.json().proof_id, bearer(alice.accessToken));
    expect(stored.json()).toMatchObject({
      valid: false,
      proof_system: 'groth16',
      error_message: refused.json().error_message,
      public_signals: ['34', '11'],
    });
  });

  it('another user’s proof, an unknown id and a malformed one are the same 404; a node key is 403', async () => {
    const { proof_id } = (
      await postFixtureProof(ctx.app, bearer(alice.accessToken), groth16, 'multiplier', 'groth16')
    ).json();
    const answers = await Promise.all([
      read(proof_id, bearer(bob.accessToken)),
      read(proof_id, apiKeyHeader(bob.apiKey)),
      read(randomUUID(), bearer(alice.accessToken)),
      read('not-a-uuid', bearer(alice.accessToken)),
    ]);
    for (const answer of answers) {
      expect(answer.statusCode).toBe(404);
      expect(answer.json()).toMatchObject({ error: 'not_found', message: 'Proof not found' });
    }
    const node = await registerNode(ctx.app, bearer(alice.accessToken));
    expect((await read(proof_id, apiKeyHeader(node.node_api_key))).statusCode).toBe(403);
    expect((await read(proof_id, {})).statusCode).toBe(401);
  });
});
