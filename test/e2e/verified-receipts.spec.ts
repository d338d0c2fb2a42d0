import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkReceipt } from '../../src/receipts/receipt-check';
import { useAdminApp } from '../support/admin';
import { bearer, newSession, Session } from '../support/auth';
import { describeEachDatabase } from '../support/databases';
import { FIRST, QUORUM_TASK, quorumAgents } from '../support/quorum';
import { getTask, submitTask } from '../support/tasks';

/** Issue 18 acceptance 3 (a quorum task's receipt, checked offline) and adaptive replication. */
describeEachDatabase('verified receipts and adaptive replication on %s', (database) => {
  const ctx = useAdminApp({
    database,
    env: { TASK_RETRY_BASE_MS: '0', SCHEDULER_SWEEP_INTERVAL_SECS: '3600', NODE_MAX_CONCURRENT_RUNS: '100' },
  });
  let alice: Session;
  const { agentOf } = quorumAgents(ctx);

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
  });

  it('acceptance 3: a quorum task’s receipt from the server verifies offline; a changed byte fails, named', async () => {
    const CLI = join(__dirname, '../../dist/src/receipts/verify-receipt.js');
    const [x, y] = [await agentOf(), await agentOf()];
    const h = bearer(alice.accessToken);
    const task = await submitTask(ctx.app, h, FIRST);
    const [[rx], [ry]] = [await x.claim(), await y.claim()];
    await x.report(rx, 'ok', { v: 42 });
    expect((await y.report(ry, 'ok', { v: 42 })).json()).toMatchObject({ task_status: 'completed' });
    const downloaded = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${task.task_id}/receipt`,
      headers: h,
    });
    expect(downloaded.statusCode).toBe(200);
    const key = (await ctx.app.inject({ method: 'GET', url: '/api/v1/receipts/public-key' })).json()
      .public_key;
    const dir = mkdtempSync(join(tmpdir(), 'vcp-quorum-receipt-'));
    // Offline: the built CLI in a process of its own, with nothing but the file and the pinned key.
    const verify = (text: string) => {
      const file = join(dir, 'receipt.json');
      writeFileSync(file, text);
      return spawnSync(process.execPath, [CLI, file, '--public-key', key], {
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
      });
    };
    try {
      const good = verify(downloaded.body);
      expect(good.status).toBe(0);
      expect(good.stdout).toMatch(/holds {3}quorum: 2 distinct node key/);
      const body = downloaded.json();
      const runSignature: string = body.receipt.runs[0].signature;
      const flipped = (b64: string) => (b64[0] === 'A' ? 'B' : 'A') + b64.slice(1);
      for (const [changed, broken] of [
        [downloaded.body.replace(body.receipt.output_hash, 'f'.repeat(64)), 'server signature'],
        [downloaded.body.replace(runSignature, flipped(runSignature)), 'run signatures'],
        [downloaded.body.replace(body.signature, flipped(body.signature)), 'server signature'],
      ]) {
        expect(changed).not.toBe(downloaded.body);
        const bad = verify(changed);
        expect(bad.status).toBe(1);
        expect(bad.stdout).toMatch(new RegExp(`^ {2}FAILED {2}${broken}: `, 'm'));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('adaptive replication: a node with a long valid streak runs an adaptive task alone; nobody else does', async () => {
    const h = bearer(alice.accessToken);
    const [veteran, rookie] = [await agentOf(), await agentOf()];
    // A streak of a million: trusted with probability 1 − 10⁻⁶.
    await ctx.dataSource.query(
      `UPDATE nodes SET valid_streak = 1000000, runs_valid = 1000000 WHERE node_id = $1`,
      [veteran.nodeId],
    );
    const adaptive = { ...FIRST, requirements: { ...QUORUM_TASK.requirements, verification: 'adaptive' } };
    const alone = await submitTask(ctx.app, h, adaptive);
    const [run] = await veteran.claim();
    expect(run.task_id).toBe(alone.task_id);
    expect((await veteran.report(run, 'ok', { v: 1 })).json()).toMatchObject({ task_status: 'completed' });
    expect(await getTask(ctx.app, alone.task_id, h)).toMatchObject({
      result: { v: 1 },
      verification: { method: 'trusted_node', mode: 'adaptive' },
    });
    const receipt = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/tasks/${alone.task_id}/receipt`,
      headers: h,
    });
    expect(receipt.statusCode).toBe(200);
    expect(receipt.json().receipt.verification).toBe('trusted_node');
    expect(checkReceipt(receipt.json()).filter((check) => !check.holds)).toEqual([]);

    // Negative controls: the same veteran on a `replicate` task, and a rookie on an adaptive one, are checked.
    for (const [agent, body] of [
      [veteran, FIRST],
      [rookie, adaptive],
    ] as const) {
      const task = await submitTask(ctx.app, h, body);
      const [leased] = await agent.claim();
      expect(leased.task_id).toBe(task.task_id);
      expect((await agent.report(leased, 'ok', { v: 1 })).json()).toMatchObject({ task_status: 'running' });
      expect((await getTask(ctx.app, task.task_id, h)).verification).toMatchObject({ method: 'quorum' });
      await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${task.task_id}/cancel`, headers: h });
    }
  });
});
