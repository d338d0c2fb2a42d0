import { NodeLivenessSweeper } from '../../../src/nodes/node-liveness.sweeper';
import { useTestApp } from '../../support/app';
import { apiKeyHeader, bearer, newSession, Session } from '../../support/auth';
import { heartbeat, registerNode } from '../../support/nodes';

describe.each([
  ['PostgreSQL', 'postgres'],
  ['PGlite', 'pglite'],
] as const)('heartbeat history and cluster stats on %s', (_name, database) => {
  const ctx = useTestApp({ database, env: { NODE_SWEEP_INTERVAL_SECS: '3600' } });
  let owner: Session;

  beforeAll(async () => {
    owner = await newSession(ctx.app, 'history');
  });

  it('1 000 heartbeats from one node write at most 2 history rows, counting every heartbeat', async () => {
    const node = await registerNode(ctx.app, apiKeyHeader(owner.apiKey));
    const key = apiKeyHeader(node.node_api_key);
    for (let round = 0; round < 20; round++) {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          heartbeat(ctx.app, node.node_id, key, { cpu_usage: (round + i) % 100, network_latency_ms: 20 }),
        ),
      );
      expect(answers.map((res) => res.statusCode)).toEqual(Array(50).fill(200));
    }
    const rows = await ctx.dataSource.query(
      `SELECT heartbeats FROM node_heartbeat_history WHERE node_id = $1`,
      [node.node_id],
    );
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeLessThanOrEqual(2);
    expect(rows.reduce((sum: number, row: { heartbeats: number }) => sum + row.heartbeats, 0)).toBe(1000);

    const history = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/nodes/${node.node_id}/heartbeats`,
      headers: bearer(owner.accessToken),
    });
    expect(history.statusCode).toBe(200);
    const items = history.json<{ items: { heartbeats: number; network_latency_ms: number }[] }>().items;
    expect(items).toHaveLength(rows.length);
    expect(items[0]).toMatchObject({ network_latency_ms: 20, status: 'online' });
  });

  it('retention prunes rows older than NODE_HISTORY_RETENTION_DAYS and keeps the rest', async () => {
    const node = await registerNode(ctx.app, apiKeyHeader(owner.apiKey));
    expect((await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key))).statusCode).toBe(200);
    await ctx.dataSource.query(
      `INSERT INTO node_heartbeat_history (node_id, bucket_start, recorded_at, health_score, status)
       SELECT $1, now() - make_interval(days => d), now() - make_interval(days => d), 50, 'online'
         FROM generate_series(8, 1207) AS d`,
      [node.node_id],
    );
    const { pruned } = await ctx.app.get(NodeLivenessSweeper).sweep();
    expect(pruned).toBe(1200);
    const left = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM node_heartbeat_history WHERE node_id = $1`,
      [node.node_id],
    );
    expect(left[0].n).toBe(1);
  });

  it('cluster stats match a hand-computed fixture', async () => {
    // Clean slate for the aggregate: the nodes of the tests above are deleted.
    await ctx.dataSource.query(`UPDATE nodes SET deleted_at = now()`);
    const nodes: [string, string, string, number, number, boolean][] = [
      // id, type, status, score, cores, deleted
      ['fx-1', 'compute', 'online', 80, 8, false],
      ['fx-2', 'compute', 'online', 60, 4, false],
      ['fx-3', 'gateway', 'offline', 90, 2, false], // offline: not healthy, still counted
      ['fx-4', 'storage', 'online', 70, 16, false], // exactly 70: healthy
      ['fx-5', 'validator', 'rejected', 100, 32, false], // rejected: not counted
      ['fx-6', 'compute', 'online', 95, 64, true], // deleted: not counted
      ['fx-7', 'compute', 'online', 90, 2, false], // quarantined below: counted, online, never healthy
    ];
    for (const [id, type, status, score, cores, deleted] of nodes) {
      await ctx.dataSource.query(
        `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb,
                            gpu_available, health_score, status, deleted_at)
         VALUES ($1, $2, 'fx', $3, 100, $4, 8, false, $5, $6, CASE WHEN $7 THEN now() END)`,
        [id, owner.userId, type, cores, score, status, deleted],
      );
    }
    await ctx.dataSource.query(`UPDATE nodes SET quarantined_at = now() WHERE node_id = 'fx-7'`);
    const tasks = [
      'pending',
      'pending',
      'running',
      'completed',
      'completed',
      'completed',
      'failed',
      'cancelled',
    ];
    for (const status of tasks) {
      await ctx.dataSource.query(
        `INSERT INTO tasks (creator_id, task_type, status, max_execution_time_sec) VALUES ($1, 'computation', $2, 60)`,
        [owner.userId, status],
      );
    }
    const res = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/cluster/stats',
      headers: apiKeyHeader(owner.apiKey),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      total_nodes: 5,
      healthy_nodes: 2,
      total_tasks: 8,
      completed_tasks: 3,
      failed_tasks: 1,
      avg_health_score: 78, // (80 + 60 + 90 + 70 + 90) / 5
      total_compute_capacity: 32, // 8 + 4 + 2 + 16 + 2
      online_nodes: 4,
      pending_tasks: 2,
      running_tasks: 1,
      by_node_type: { compute: 3, gateway: 1, storage: 1, validator: 0 },
    });
  });
});
