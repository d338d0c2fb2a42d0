import { randomUUID } from 'node:crypto';
import { generateNodeKeyPair } from '../../src/common/receipts/receipt';
import { LeasedRun, TestAgent } from '../support/agent';
import { useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { eventually } from '../support/eventually';
import { heartbeat, ORIGINAL_NODE, uniqueNodeId } from '../support/nodes';
import { scrape, valueOf } from '../support/prometheus';
import { FIRST, quorumAgents } from '../support/quorum';
import { submitTask } from '../support/tasks';

const fencesOf = (runs: LeasedRun[]) => runs.map(({ run_id, fence }) => ({ run_id, fence }));
const keyed = (key: string) => ({ 'idempotency-key': key });
const SCRAPE_TOKEN = randomUUID();

/**
 * Issue 19, the server's half: claims repeated with their Idempotency-Key, results repeated after they were
 * accepted, and registrations repeated before the node's key was used, each answer as the first did and change
 * nothing more (the agent-level proof is agent-replay.spec.ts).
 */
describeEachDatabase('repeated agent requests on %s', (database) => {
  const ctx = useAdminApp({
    database,
    env: {
      TASK_RETRY_BASE_MS: '0',
      SCHEDULER_SWEEP_INTERVAL_SECS: '3600',
      NODE_MAX_CONCURRENT_RUNS: '100',
      METRICS_TOKEN: SCRAPE_TOKEN,
    },
  });
  let alice: Session;
  let bob: Session;
  const { agentOf } = quorumAgents(ctx);

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    bob = await newSession(ctx.app, 'bob');
  });

  const newAgent = () => TestAgent.register(ctx.app, bearer(bob.accessToken));
  /** Tasks claimed before anything an earlier test left in the queue. */
  const firstTasks = (n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        submitTask(ctx.app, bearer(alice.accessToken), {
          priority: 9,
          inputs: { numbers: [i], operation: 'sum' },
        }),
      ),
    );
  const leaseOf = async (runId: string): Promise<number> => {
    const [row] = await ctx.dataSource.query(
      `SELECT extract(epoch FROM lease_expires_at - now()) AS secs FROM task_runs WHERE run_id = $1`,
      [runId],
    );
    return Number(row.secs);
  };
  const runsOfNode = async (nodeId: string): Promise<number> =>
    (await ctx.dataSource.query(`SELECT count(*)::int AS n FROM task_runs WHERE node_id = $1`, [nodeId]))[0]
      .n;
  const claimsBy = async (result: string): Promise<number> =>
    valueOf(
      (await scrape(ctx.app, { authorization: `Bearer ${SCRAPE_TOKEN}` })).samples,
      'vcp_task_claim_duration_seconds_count',
      { result },
    );

  it('a claim repeated with its Idempotency-Key gets the same runs, renewed, and leases nothing more', async () => {
    await firstTasks(3);
    const agent = await newAgent();
    const key = randomUUID();
    const first = await agent.claim({ max: 2, wait_ms: 0 }, keyed(key));
    expect(first).toHaveLength(2);
    // Close to expiry when the repeat arrives: the repeat renews the leases for a full term (30 s here).
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() + interval '2 seconds' WHERE run_id = ANY($1)`,
      [first.map((run) => run.run_id)],
    );
    const [leasedBefore, replayedBefore] = [await claimsBy('leased'), await claimsBy('replayed')];
    const again = await agent.claim({ max: 2, wait_ms: 0 }, keyed(key));
    expect(fencesOf(again)).toEqual(fencesOf(first));
    // The repeat leased nothing: the claim histogram says `replayed`, not `leased`.
    expect([await claimsBy('leased'), await claimsBy('replayed')]).toEqual([
      leasedBefore,
      replayedBefore + 1,
    ]);
    expect(again.map((run) => run.spec)).toEqual(first.map((run) => run.spec));
    for (const run of again) expect(await leaseOf(run.run_id)).toBeGreaterThan(20);
    expect(await runsOfNode(agent.nodeId)).toBe(2);

    // Another key is another claim: it leases the third task.
    const next = await agent.claim({ max: 2, wait_ms: 0 }, keyed(randomUUID()));
    expect(next).toHaveLength(1);
    expect(first.map((run) => run.task_id)).not.toContain(next[0].task_id);
    for (const run of [...first, ...next]) expect((await agent.report(run, 'ok', 6)).statusCode).toBe(200);
  });

  it('a key is the node’s own, and once its runs are no longer leased it claims anew', async () => {
    await firstTasks(3);
    const [a, b] = [await newAgent(), await newAgent()];
    const key = randomUUID();
    const [ofA] = await a.claim({ max: 1, wait_ms: 0 }, keyed(key));
    // Node B sending A's key learns nothing of A's runs: it gets a lease of its own.
    const [ofB] = await b.claim({ max: 1, wait_ms: 0 }, keyed(key));
    expect(ofB.run_id).not.toBe(ofA.run_id);
    expect(ofB.task_id).not.toBe(ofA.task_id);
    // A's run is finished: the same key is a new claim now, and leases the third task.
    expect((await a.report(ofA, 'ok', 6)).statusCode).toBe(200);
    const [next] = await a.claim({ max: 1, wait_ms: 0 }, keyed(key));
    expect([ofA.task_id, ofB.task_id]).not.toContain(next.task_id);
    expect((await a.report(next, 'ok', 6)).statusCode).toBe(200);
    // B's lease has expired (not yet swept): a repeat does not revive it.
    await ctx.dataSource.query(
      `UPDATE task_runs SET lease_expires_at = now() - interval '1 millisecond' WHERE run_id = $1`,
      [ofB.run_id],
    );
    const repeat = await b.claimRaw({ max: 1, wait_ms: 0 }, keyed(key));
    const repeated = repeat.statusCode === 204 ? [] : repeat.json<{ runs: LeasedRun[] }>().runs;
    expect(repeated.map((run) => run.run_id)).not.toContain(ofB.run_id);
    expect((await b.report(ofB, 'ok', 6)).json()).toMatchObject({ reason: 'lease_lost' });
    for (const run of repeated) expect((await b.report(run, 'ok', 6)).statusCode).toBe(200);
  });

  it.each([
    {
      standing: 'quarantined',
      set: `quarantined_at = now(), quarantine_reason = 'test'`,
      lift: 'quarantined_at = NULL',
      answer: [403, 'node_quarantined'],
    },
    // Its key not yet refused: a replica hears of a revocation within 5 s.
    { standing: 'rejected', set: `status = 'rejected'`, lift: `status = 'online'`, answer: [204, undefined] },
  ])(
    'a repeat by a node $standing since its claim gets what a fresh claim gets, and renews nothing',
    async ({ set, lift, answer }) => {
      await firstTasks(1);
      const agent = await newAgent();
      const key = randomUUID();
      const [run] = await agent.claim({ max: 1, wait_ms: 0 }, keyed(key));
      // Changed while it still holds the lease: as between a quarantine's commit and the release of its leases
      // (or after a release that failed, which leaves them to expire).
      await ctx.dataSource.query(`UPDATE nodes SET ${set} WHERE node_id = $1`, [agent.nodeId]);
      await ctx.dataSource.query(
        `UPDATE task_runs SET lease_expires_at = now() + interval '2 seconds' WHERE run_id = $1`,
        [run.run_id],
      );
      const repeat = await agent.claimRaw({ max: 1, wait_ms: 0 }, keyed(key));
      expect([repeat.statusCode, repeat.statusCode === 204 ? undefined : repeat.json().reason]).toEqual(
        answer,
      );
      expect(await leaseOf(run.run_id)).toBeLessThan(3);
      // The control: restored, the same repeat gets its run back, renewed.
      await ctx.dataSource.query(`UPDATE nodes SET ${lift} WHERE node_id = $1`, [agent.nodeId]);
      const again = await agent.claim({ max: 1, wait_ms: 0 }, keyed(key));
      expect(fencesOf(again)).toEqual(fencesOf([run]));
      expect(await leaseOf(run.run_id)).toBeGreaterThan(20);
      expect((await agent.report(run, 'ok', 0)).statusCode).toBe(200);
    },
  );

  it('without the header a repeated claim leases more (as before); a malformed key is a 422 naming it', async () => {
    await firstTasks(2);
    const agent = await newAgent();
    const [first] = await agent.claim();
    const [second] = await agent.claim();
    expect(second.task_id).not.toBe(first.task_id);
    for (const bad of ['', 'with space', 'x'.repeat(256), 'é']) {
      const res = await agent.claimRaw({ max: 1, wait_ms: 0 }, keyed(bad));
      expect(res.statusCode).toBe(422);
      expect(res.json().details[0].field).toBe('Idempotency-Key');
    }
    for (const run of [first, second]) expect((await agent.report(run, 'ok', 6)).statusCode).toBe(200);
  });

  it('a repeated accepted result answers as the first: one verdict per run; another body stays lease_lost', async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken), {
      ...FIRST,
      inputs: { numbers: [4, 2], operation: 'sum' },
    });
    const [x, y] = [await agentOf(), await agentOf()];
    const [runX] = await x.claim();
    const [runY] = await y.claim();
    expect([runX.task_id, runY.task_id]).toEqual([task.task_id, task.task_id]);
    const firstX = await x.report(runX, 'ok', 6);
    const firstY = await y.report(runY, 'ok', 6);
    expect(firstY.json()).toMatchObject({ task_status: 'completed' });
    for (const [agent, run, answer] of [
      [x, runX, firstX],
      [y, runY, firstY],
    ] as const) {
      const repeat = await agent.report(run, 'ok', 6);
      expect([repeat.statusCode, repeat.json()]).toEqual([200, answer.json()]);
      const other = await agent.report(run, 'ok', 7);
      expect([other.statusCode, other.json().reason]).toEqual([409, 'lease_lost']);
    }
    const records = await ctx.dataSource.query(
      `SELECT runs_valid, runs_invalid FROM nodes WHERE node_id = ANY($1) ORDER BY node_id`,
      [[x.nodeId, y.nodeId]],
    );
    expect(records).toEqual([
      { runs_valid: 1, runs_invalid: 0 },
      { runs_valid: 1, runs_invalid: 0 },
    ]);
  });

  describe('registration', () => {
    const register = (owner: Session, body: object) =>
      ctx.app.inject({
        method: 'POST',
        url: '/api/v1/nodes',
        headers: bearer(owner.accessToken),
        payload: body,
      });
    const bodyOf = () => ({
      ...ORIGINAL_NODE,
      node_id: uniqueNodeId('replayed'),
      public_key: generateNodeKeyPair().publicKeyBase64,
    });

    it('repeated before its key was used answers 201 again with a fresh key; the unseen key is revoked', async () => {
      const body = bodyOf();
      const first = await register(bob, body);
      const again = await register(bob, body);
      expect([first.statusCode, again.statusCode]).toEqual([201, 201]);
      const [a, b] = [first.json(), again.json()];
      expect({ ...b, node_api_key: a.node_api_key }).toEqual(a);
      expect(b.node_api_key).not.toBe(a.node_api_key);
      expect((await heartbeat(ctx.app, body.node_id, apiKeyHeader(a.node_api_key))).statusCode).toBe(401);
      expect((await heartbeat(ctx.app, body.node_id, apiKeyHeader(b.node_api_key))).statusCode).toBe(200);
      const audit = await ctx.dataSource.query(
        `SELECT action, metadata->>'cause' AS cause FROM audit_log WHERE resource_id = $1 ORDER BY action`,
        [body.node_id],
      );
      expect(audit).toEqual([
        { action: 'node.key_rotated', cause: 'registration_repeated' },
        { action: 'node.registered', cause: null },
      ]);
      // Now its key is in use: a repeat is the 409 of a live id, and that key keeps working.
      await eventually(async () => {
        const [key] = await ctx.dataSource.query(
          `SELECT last_used_at FROM api_keys WHERE node_id = $1 AND revoked_at IS NULL`,
          [body.node_id],
        );
        expect(key.last_used_at).not.toBeNull();
      });
      expect((await register(bob, body)).statusCode).toBe(409);
      expect((await heartbeat(ctx.app, body.node_id, apiKeyHeader(b.node_api_key))).statusCode).toBe(200);
    });

    it('is a 409 when anything differs: the body, the public key (or none), the owner', async () => {
      const body = bodyOf();
      const first = await register(bob, body);
      expect(first.statusCode).toBe(201);
      const withoutKey: Record<string, unknown> = { ...body };
      delete withoutKey.public_key;
      for (const [owner, other] of [
        [bob, { ...body, region: 'eu-north' }],
        [bob, { ...body, capabilities: { ...body.capabilities, cpu_cores: 4 } }],
        [bob, { ...body, labels: { zone: 'a' } }],
        [bob, { ...body, public_key: generateNodeKeyPair().publicKeyBase64 }],
        [bob, withoutKey],
        [alice, body],
      ] as const) {
        expect((await register(owner, other)).statusCode).toBe(409);
      }
      // None of those touched the node's key.
      expect(
        (await heartbeat(ctx.app, body.node_id, apiKeyHeader(first.json().node_api_key))).statusCode,
      ).toBe(200);
    });
  });
});
