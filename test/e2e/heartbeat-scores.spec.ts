import { DatabaseSession, TransactionRunner } from '../../src/database/transaction-runner';
import { healthScore } from '../../src/nodes/health-score';
import { HeartbeatsRepository } from '../../src/nodes/heartbeats.repository';
import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { heartbeat, Headers, ORIGINAL_NODE, RegisteredNode, registerNode } from '../support/nodes';

const FULL = { cpu_usage: 20, memory_usage: 40, network_latency_ms: 50 };
const BUCKET_SECS = 86_400;

interface HistoryItem {
  heartbeats: number;
  health_score: number;
  cpu_usage: number | null;
  memory_usage: number | null;
  network_latency_ms: number | null;
}

/** README "Nodes": each part of the score is the node's latest reported value of it, whichever heartbeat sent it. */
describe('health score of partial heartbeats', () => {
  // One history bucket a day: the rows a test reads are not split by a bucket boundary.
  const ctx = useTestApp({ env: { NODE_HISTORY_INTERVAL_SECS: String(BUCKET_SECS) } });
  let owner: Session;

  beforeAll(async () => {
    owner = await newSession(ctx.app, 'scores');
  });

  /** A node of 150 Mbps (ORIGINAL_NODE) and its node key. */
  const newNode = async (): Promise<{ node: RegisteredNode; key: Headers }> => {
    const node = await registerNode(ctx.app, apiKeyHeader(owner.apiKey));
    return { node, key: apiKeyHeader(node.node_api_key) };
  };

  const beat = async (node: RegisteredNode, key: Headers, payload: object): Promise<number> => {
    const res = await heartbeat(ctx.app, node.node_id, key, payload);
    expect(res.statusCode).toBe(200);
    return res.json<{ health_score: number }>().health_score;
  };

  const stored = async (nodeId: string): Promise<number> => {
    const res = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/nodes/${nodeId}`,
      headers: bearer(owner.accessToken),
    });
    return res.json<{ health_score: number }>().health_score;
  };

  const latestHistory = async (nodeId: string): Promise<HistoryItem> => {
    const res = await ctx.app.inject({
      method: 'GET',
      url: `/api/v1/nodes/${nodeId}/heartbeats`,
      headers: bearer(owner.accessToken),
    });
    expect(res.statusCode).toBe(200);
    return res.json<{ items: HistoryItem[] }>().items[0];
  };

  /** The score README's formula gives for a history row's telemetry (bandwidth 150, nothing compared yet). */
  const scoreOf = (row: HistoryItem) =>
    healthScore({
      bandwidthMbps: ORIGINAL_NODE.capabilities.bandwidth_mbps,
      cpuUsage: row.cpu_usage,
      memoryUsage: row.memory_usage,
      networkLatencyMs: row.network_latency_ms,
    });

  it('a partial heartbeat changes only the parts it reports; the others keep their last values', async () => {
    const { node, key } = await newNode();
    // 0.4 × 1 + 0.3 × 0.9 + 0.2 × 0.7 + 0.1 × 0.5
    expect(await beat(node, key, FULL)).toBe(86);
    expect(await beat(node, key, {})).toBe(86);
    // Memory 40 and latency 50 are still the node's latest values, not "not reported" (that would be 76).
    expect(await beat(node, key, { cpu_usage: 20 })).toBe(86);
    expect(await stored(node.node_id)).toBe(86);
    // Latency 250 → 0.5: 0.4 + 0.15 + 0.14 + 0.05.
    expect(await beat(node, key, { network_latency_ms: 250 })).toBe(74);
    // CPU 60 with the memory 40 of the first heartbeat → spare 0.5: 0.4 + 0.15 + 0.1 + 0.05.
    expect(await beat(node, key, { cpu_usage: 60 })).toBe(70);
    expect(await stored(node.node_id)).toBe(70);
    expect(await beat(node, key, FULL)).toBe(86);
    expect(await stored(node.node_id)).toBe(86);
  });

  it('parts a node never reported count 0.5, also after it is deleted and registered again', async () => {
    const { node, key } = await newNode();
    // Latency never reported: 0.4 + 0.15 + 0.2 × 0.8 + 0.05.
    expect(await beat(node, key, { cpu_usage: 20 })).toBe(76);
    expect(await beat(node, key, FULL)).toBe(86);

    const deleted = await ctx.app.inject({
      method: 'DELETE',
      url: `/api/v1/nodes/${node.node_id}`,
      headers: bearer(owner.accessToken),
    });
    expect(deleted.statusCode).toBe(200);
    const again = await registerNode(ctx.app, apiKeyHeader(owner.apiKey), { node_id: node.node_id });
    expect(again.health_score).toBe(50);
    expect(await beat(again, apiKeyHeader(again.node_api_key), { cpu_usage: 20 })).toBe(76);
  });

  it('heartbeats racing (written alone or merged into one batch) all score from the latest values', async () => {
    const { node, key } = await newNode();
    expect(await beat(node, key, FULL)).toBe(86);
    // Each repeats one part of FULL, so whatever order and batching they get, the node's telemetry stays FULL.
    const partials = [{ cpu_usage: 20 }, { memory_usage: 40 }, { network_latency_ms: 50 }, {}];
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => beat(node, key, partials[i % partials.length])),
    );
    expect(answers).toEqual(Array(40).fill(86));
    expect(await stored(node.node_id)).toBe(86);
    const row = await latestHistory(node.node_id);
    expect(row).toMatchObject({ heartbeats: 41, health_score: 86, ...FULL });
  });

  it('the history row holds the telemetry its score was computed from, at the precision it stores', async () => {
    const { node, key } = await newNode();
    await beat(node, key, { cpu_usage: 20.126, memory_usage: 40, network_latency_ms: 50.4 });
    const answer = await beat(node, key, { cpu_usage: 33.3 });
    const row = await latestHistory(node.node_id);
    expect(row).toMatchObject({ heartbeats: 2, cpu_usage: 33.3, memory_usage: 40, network_latency_ms: 50 });
    expect(row.health_score).toBe(scoreOf(row));
    expect(answer).toBe(row.health_score);
    expect(await stored(node.node_id)).toBe(row.health_score);

    const first = await newNode();
    const rounded = await beat(first.node, first.key, { cpu_usage: 20.126, network_latency_ms: 50.4 });
    const firstRow = await latestHistory(first.node.node_id);
    expect(firstRow).toMatchObject({ cpu_usage: 20.13, memory_usage: null, network_latency_ms: 50 });
    expect(rounded).toBe(scoreOf(firstRow));
  });

  it('a heartbeat that waits for another writer of the node scores from the values that writer committed', async () => {
    const { node, key } = await newNode();
    expect(await beat(node, key, FULL)).toBe(86);
    const session = ctx.app.get(DatabaseSession);
    const waitingOnA = async () => {
      // Asked inside A's transaction, which would otherwise keep seeing its first snapshot of the activity view.
      await session.query('SELECT pg_stat_clear_snapshot()');
      const [{ n }] = await session.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'WITH v AS%'`,
      );
      return n > 0;
    };
    let startB!: () => void;
    // Registered here, outside A's transaction: B is a request of its own, written on another connection.
    const b = new Promise<void>((resolve) => (startB = resolve)).then(() =>
      beat(node, key, { memory_usage: 80 }),
    );
    const [a] = await ctx.app.get(TransactionRunner).run(async () => {
      const written = await ctx.app.get(HeartbeatsRepository).record(
        [
          {
            nodeId: node.node_id,
            cpuUsage: 60,
            memoryUsage: null,
            diskUsage: null,
            networkLatencyMs: null,
            activeTasks: null,
            agentVersion: null,
            reliability: null,
            count: 1,
          },
        ],
        BUCKET_SECS,
      );
      startB();
      await eventually(async () => expect(await waitingOnA()).toBe(true));
      return written;
    });
    // A: CPU 60, memory 40, latency 50 → 0.4 + 0.27 + 0.1 + 0.05.
    expect(a.healthScore).toBe(82);
    // B waited for A's row: CPU 60 (A's, not the 20 its snapshot saw), memory 80 → 0.4 + 0.27 + 0.06 + 0.05.
    expect(await b).toBe(78);
    const row = await latestHistory(node.node_id);
    expect(row).toMatchObject({ heartbeats: 3, health_score: 78, cpu_usage: 60, memory_usage: 80 });
    expect(row.health_score).toBe(scoreOf(row));
  });
});
