import { EmbeddedNodes } from '../../src/embedded-node/embedded-node.service';
import { useAdminApp } from '../support/admin';
import { AdminBootstrapService } from '../../src/admin/admin-bootstrap.service';
import { bearer, login, newSession, register, Session, uniqueName } from '../support/auth';
import { ORIGINAL_NODE } from '../support/nodes';
import { expect422 } from '../support/validation';
import { eventually } from '../support/eventually';
import { finalTask } from '../support/task-waits';
import { submitTask } from '../support/tasks';
import { fixture, sha256 } from '../support/wasm';
import { FixtureProtocol, registerCircuit } from '../support/zk';

const REQUIREMENTS = { min_nodes: 1, max_execution_time_sec: 30, require_gpu: false, require_proof: false };

/**
 * Issue 17, acceptance 1 (the wasm_execution and zk_proof parts): the default setup — embedded database, no
 * DATABASE_URL, EMBEDDED_NODE=auto — completes tasks with no node started by hand.
 */
describe('the embedded node (default setup: PGlite, EMBEDDED_NODE=auto)', () => {
  const ctx = useAdminApp({
    database: 'pglite',
    env: { EMBEDDED_NODE: 'auto', EMBEDDED_NODE_CONCURRENCY: '2' },
  });
  let alice: Session;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  it('is a node owned by a built-in, disabled account: visible to admins and in cluster stats', async () => {
    const listed = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/nodes?all=true',
      headers: bearer(ctx.admin.accessToken),
    });
    const node = listed
      .json<{ items: Record<string, unknown>[] }>()
      .items.find((n) => n.node_id === 'embedded-1');
    expect(node).toMatchObject({ status: 'online', node_type: 'compute', labels: { embedded: 'true' } });
    expect(node!.public_key).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const stats = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/cluster/stats',
      headers: bearer(alice.accessToken),
    });
    expect(stats.json()).toMatchObject({ total_nodes: 1, online_nodes: 1 });
    // Nobody logs in as the built-in owner.
    const [owner] = await ctx.dataSource.query(`SELECT username, disabled_at FROM users WHERE user_id = $1`, [
      node!.owner_id,
    ]);
    expect(owner.username).toBe('system_embedded_1');
    expect(owner.disabled_at).not.toBeNull();
    await expect(login(ctx.app, 'system_embedded_1', 'anything at all')).rejects.toThrow();
    // Nor can an admin enable or promote it.
    const patched = await ctx.app.inject({
      method: 'PATCH',
      url: `/api/v1/admin/users/${String(node!.owner_id)}`,
      headers: bearer(ctx.admin.accessToken),
      payload: { disabled: false, role: 'admin' },
    });
    expect(patched.statusCode).toBe(403);
    expect(patched.json().error).toBe('forbidden');
  });

  it('keeps its names: no user registers a system_ account or an embedded-<n> node, whatever the case', async () => {
    for (const username of ['system_embedded_1', 'System_Embedded_2', 'SYSTEM_anything']) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { username, password: 'correct horse battery' },
      });
      expect(expect422(res, 'username')[0].message).toMatch(/reserved/);
    }
    for (const nodeId of ['embedded-1', 'embedded-3', 'Embedded-12']) {
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/nodes',
        headers: bearer(alice.accessToken),
        payload: { ...ORIGINAL_NODE, node_id: nodeId },
      });
      expect(expect422(res, 'node_id')[0].message).toMatch(/reserved/);
    }
    // Only the family: a near name stays open.
    await register(ctx.app, uniqueName('systemic'));
    // Nor can the bootstrap (ADMIN_USERNAME, create-admin) create one.
    await expect(
      ctx.app.get(AdminBootstrapService).ensureAdmin('System_Embedded_3', 'a good password 123', 'cli'),
    ).rejects.toThrow("System_Embedded_3 is reserved for the server's own accounts");
    const [{ n }] = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM users WHERE lower(username) LIKE 'system\\_%'`,
    );
    expect(n).toBe(1); // system_embedded_1, the server's own
  });

  it('completes a wasm_execution task whose module was uploaded inline (base64)', async () => {
    const h = bearer(alice.accessToken);
    const echo = fixture('echo');
    const inputs = { numbers: [1, 2, 3], text: 'héllo' };
    const task = await submitTask(ctx.app, h, {
      task_type: 'wasm_execution',
      wasm_module: echo.toString('base64'),
      inputs,
      requirements: REQUIREMENTS,
    });
    const done = await finalTask(ctx.app, task.task_id, h);
    expect(done).toMatchObject({ status: 'completed', result: inputs, assigned_nodes: ['embedded-1'] });
    expect(done.runs).toEqual([
      expect.objectContaining({ node_id: 'embedded-1', status: 'succeeded', outcome: 'ok' }),
    ]);
    const [run] = await ctx.dataSource.query(
      `SELECT wasm_module_hash, inputs_hash, execution_time_ms FROM task_runs WHERE task_id = $1`,
      [task.task_id],
    );
    expect(run.wasm_module_hash).toBe(sha256(echo));
    expect(run.inputs_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('completes computation tasks (built-in programs): an exact expression and a seeded Monte-Carlo pi', async () => {
    const h = bearer(alice.accessToken);
    const expression = await submitTask(ctx.app, h, {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '2+3*4' },
      requirements: REQUIREMENTS,
    });
    const pi = await submitTask(ctx.app, h, {
      task_type: 'computation',
      inputs: { program: 'monte_carlo_pi', samples: 10_000, seed: 7 },
      requirements: REQUIREMENTS,
    });
    expect(await finalTask(ctx.app, expression.task_id, h)).toMatchObject({
      status: 'completed',
      result: { result: 14 },
    });
    const done = await finalTask(ctx.app, pi.task_id, h);
    expect(done).toMatchObject({ status: 'completed', result: { samples: 10_000, seed: 7 } });
    const estimate = (done.result as { estimated_pi: number }).estimated_pi;
    expect(Math.abs(estimate - Math.PI)).toBeLessThan(0.1);
  });

  it.each<FixtureProtocol>(['groth16', 'plonk'])(
    'completes a %s zk_proof task: the proof it returns verifies against the circuit',
    async (protocol) => {
      const circuitId = await registerCircuit(ctx.app, bearer(ctx.admin.accessToken), 'multiplier', protocol);
      const h = bearer(alice.accessToken);
      const task = await submitTask(ctx.app, h, {
        task_type: 'zk_proof',
        circuit_id: circuitId,
        inputs: { a: '3', b: '11', public_signals: ['33', '11'] },
        requirements: REQUIREMENTS,
      });
      const done = await finalTask(ctx.app, task.task_id, h);
      expect(done.status).toBe('completed');
      const result = done.result as { proof: { protocol: string }; public_signals: string[] };
      expect(result.public_signals).toEqual(['33', '11']);
      expect(result.proof.protocol).toBe(protocol);
      // The proof the server verified is stored and bound to the task (and its run).
      expect(done.proof_id).toMatch(/^[0-9a-f-]{36}$/);
      const [artifact] = await ctx.dataSource.query(
        `SELECT task_id FROM proof_artifacts WHERE proof_id = $1`,
        [done.proof_id],
      );
      expect(artifact).toEqual({ task_id: task.task_id });
      const verified = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/proofs/verify',
        headers: bearer(alice.accessToken),
        payload: { circuit_id: circuitId, proof: result.proof, public_signals: result.public_signals },
      });
      expect(verified.json()).toMatchObject({ valid: true });
      // A witness the circuit does not accept cannot be proved (a real prover ran, not a stand-in).
      const bad = await submitTask(ctx.app, h, {
        task_type: 'zk_proof',
        circuit_id: circuitId,
        inputs: { a: '3', public_signals: ['3', '1'] },
        requirements: REQUIREMENTS,
        max_attempts: 1,
      });
      // One node only: a task fault waits for a second node to confirm it, so read the run itself.
      const run = await eventually(
        async () => {
          const [row] = await ctx.dataSource.query(
            `SELECT outcome, stderr FROM task_runs WHERE task_id = $1 AND outcome IS NOT NULL`,
            [bad.task_id],
          );
          if (!row) throw new Error('no result yet');
          return row as { outcome: string; stderr: string };
        },
        { timeoutMs: 30_000 },
      );
      expect(run.outcome).toBe('trap');
    },
  );

  // Last: it deletes the embedded node.
  it('stops its agent once an admin deletes the node (it cannot be registered again until the next start)', async () => {
    const nodes = ctx.app.get(EmbeddedNodes);
    expect(nodes.running).toBe(1);
    const deleted = await ctx.app.inject({
      method: 'DELETE',
      url: '/api/v1/nodes/embedded-1',
      headers: bearer(ctx.admin.accessToken),
    });
    expect(deleted.statusCode).toBe(200);
    await eventually(() => expect(nodes.running).toBe(0), { timeoutMs: 30_000, intervalMs: 100 });
  });
});
