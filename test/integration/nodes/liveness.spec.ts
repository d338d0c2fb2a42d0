import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { register as clearGlobalMetrics } from 'prom-client';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { VcpMetrics } from '../../../src/metrics/vcp-metrics';
import { NodeLivenessSweeper } from '../../../src/nodes/node-liveness.sweeper';
import { bootApp, useTestApp } from '../../support/app';
import { apiKeyHeader, newSession } from '../../support/auth';
import { testConfig, TestConfig } from '../../support/config';
import { eventually } from '../../support/eventually';
import { heartbeat, registerNode } from '../../support/nodes';

const OFFLINE_AFTER_SECS = 2;
const SWEEP_SECS = 1;

const statusOf = async (ds: DataSource, nodeId: string) =>
  (await ds.query(`SELECT status FROM nodes WHERE node_id = $1`, [nodeId]))[0]?.status as string;

describe('node liveness with short settings', () => {
  const ctx = useTestApp({
    env: {
      NODE_HEARTBEAT_INTERVAL_SECS: '1',
      NODE_OFFLINE_AFTER_SECS: String(OFFLINE_AFTER_SECS),
      NODE_SWEEP_INTERVAL_SECS: String(SWEEP_SECS),
    },
  });

  it('a silent node goes offline within NODE_OFFLINE_AFTER_SECS + one sweep; a heartbeat brings it back', async () => {
    const owner = await newSession(ctx.app, 'live');
    const node = await registerNode(ctx.app, apiKeyHeader(owner.apiKey));
    expect(await statusOf(ctx.dataSource, node.node_id)).toBe('online');

    await eventually(async () => expect(await statusOf(ctx.dataSource, node.node_id)).toBe('offline'), {
      timeoutMs: (OFFLINE_AFTER_SECS + SWEEP_SECS) * 1000 + 1500,
      intervalMs: 100,
    });
    const metrics = ctx.app.get(VcpMetrics).registry;
    expect(await metrics.getSingleMetricAsString('vcp_node_offline_transitions_total')).toMatch(
      / [1-9]\d*$/m,
    );

    const back = await heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key), { cpu_usage: 20 });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toMatchObject({ node_status: 'online', heartbeat_interval_secs: 1 });
    expect(await statusOf(ctx.dataSource, node.node_id)).toBe('online');
    expect(await metrics.getSingleMetricAsString('vcp_node_online_transitions_total')).toMatch(/ 1$/m);
    expect(await metrics.getSingleMetricAsString('vcp_nodes')).toMatch(/vcp_nodes\{status="online"\} \d+/);
  });
});

/**
 * Two replicas on one PostgreSQL database sweep at the same moment. The sweeps are called directly (their
 * timers are set to an hour): passport strategies are process-global, so only the sweep services are used
 * once the second app exists.
 */
describe('two replicas sweeping at once', () => {
  const HOUR = { NODE_SWEEP_INTERVAL_SECS: '3600', NODE_PURGE_AFTER_DAYS: '30' };
  const ctx = useTestApp({ env: HOUR });
  let second: NestFastifyApplication;
  let secondEnv: TestConfig;
  const nodeIds: string[] = [];

  beforeAll(async () => {
    const owner = await newSession(ctx.app, 'replicas');
    for (let i = 0; i < 20; i++)
      nodeIds.push((await registerNode(ctx.app, apiKeyHeader(owner.apiKey))).node_id);
    clearGlobalMetrics.clear();
    secondEnv = testConfig({ DATABASE_URL: ctx.db!.url, ...HOUR });
    second = await bootApp(secondEnv.config);
  });

  afterAll(async () => {
    await second?.close();
    secondEnv?.cleanup();
  });

  const sweepBoth = () =>
    Promise.all([ctx.app.get(NodeLivenessSweeper).sweep(), second.get(NodeLivenessSweeper).sweep()]);

  it('mark each silent node offline exactly once, and a second round changes nothing', async () => {
    await ctx.dataSource.query(
      `UPDATE nodes SET last_heartbeat = now() - interval '1 hour' WHERE node_id = ANY($1)`,
      [nodeIds],
    );
    const [a, b] = await sweepBoth();
    expect([...a.offline, ...b.offline].sort()).toEqual([...nodeIds].sort());
    const [again1, again2] = await sweepBoth();
    expect([...again1.offline, ...again2.offline]).toEqual([]);
    const rows = await ctx.dataSource.query(`SELECT DISTINCT status FROM nodes WHERE node_id = ANY($1)`, [
      nodeIds,
    ]);
    expect(rows).toEqual([{ status: 'offline' }]);
  });

  it('purge long-offline nodes once each: one audit row per node, keys revoked, never silently', async () => {
    const dead = nodeIds.slice(0, 5);
    await ctx.dataSource.query(
      `UPDATE nodes SET last_heartbeat = now() - interval '31 days' WHERE node_id = ANY($1)`,
      [dead],
    );
    const [a, b] = await sweepBoth();
    expect([...a.purged, ...b.purged].sort()).toEqual([...dead].sort());
    const audit = await ctx.dataSource.query(
      `SELECT resource_id, count(*)::int AS n FROM audit_log WHERE action = 'node.purged' GROUP BY resource_id`,
    );
    expect(audit.map((row: { resource_id: string }) => row.resource_id).sort()).toEqual([...dead].sort());
    expect(audit.every((row: { n: number }) => row.n === 1)).toBe(true);
    const live = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM api_keys WHERE node_id = ANY($1) AND revoked_at IS NULL`,
      [dead],
    );
    expect(live[0].n).toBe(0);
    const remaining = await ctx.dataSource.query(
      `SELECT count(*)::int AS n FROM nodes WHERE node_id = ANY($1) AND deleted_at IS NULL`,
      [nodeIds],
    );
    expect(remaining[0].n).toBe(15);
  });
});

/**
 * Another replica's heartbeat brings an offline node back while this replica's heartbeat statement for it is
 * under way: the transition is that replica's, and this one must not count it as well.
 */
describe('a heartbeat racing another replica’s heartbeat of an offline node', () => {
  const ctx = useTestApp({ env: { NODE_SWEEP_INTERVAL_SECS: '3600' } });

  it('counts the node’s return online once, on the replica that made it', async () => {
    const owner = await newSession(ctx.app, 'racing_beats');
    const node = await registerNode(ctx.app, apiKeyHeader(owner.apiKey));
    await ctx.dataSource.query(`UPDATE nodes SET status = 'offline' WHERE node_id = $1`, [node.node_id]);
    const registry = ctx.app.get(VcpMetrics).registry;
    const transitions = async () =>
      (await registry.getSingleMetric('vcp_node_online_transitions_total')!.get()).values[0]?.value ?? 0;
    const before = await transitions();
    const other = new Client({ connectionString: ctx.db!.url });
    await other.connect();
    try {
      // The other replica's heartbeat, its transaction held open: the node is online, its row locked.
      await other.query('BEGIN');
      await other.query(
        `UPDATE nodes SET status = 'online', last_heartbeat = now() WHERE node_id = $1 AND status = 'offline'`,
        [node.node_id],
      );
      const beat = Promise.resolve(heartbeat(ctx.app, node.node_id, apiKeyHeader(node.node_api_key), {}));
      // This replica's heartbeat statement started while the node was offline, and waits for its row.
      await eventually(async () => {
        await other.query('SELECT pg_stat_clear_snapshot()');
        const { rows } = await other.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%UPDATE nodes n SET last_heartbeat%'`,
        );
        expect(rows[0].n).toBe(1);
      });
      await other.query('COMMIT');
      const res = await beat;
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ node_status: 'online' });
      expect((await transitions()) - before).toBe(0);
    } finally {
      await other.end();
    }
  });
});
