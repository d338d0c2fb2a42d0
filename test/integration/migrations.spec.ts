import { DataSource } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { CircuitRetirement20261202160000 } from '../../migrations/20261202160000-CircuitRetirement';
import { CircuitTaskPages20261204000000 } from '../../migrations/20261204000000-CircuitTaskPages';
import { NodeTelemetry20261204120000 } from '../../migrations/20261204120000-NodeTelemetry';
import { createDataSource } from '../../src/database/data-source.factory';
import { createTestEnv, describeEachDatabase, TestEnv } from '../support/databases';
import { hasInlineIndex, migrationStatements, schemaSnapshot } from '../support/schema';

const EXPECTED_TABLES = [
  'api_keys',
  'audit_log',
  'circuits',
  'content_chunks',
  'content_objects',
  'control_plane_clock',
  'migrations',
  'module_owners',
  'node_heartbeat_history',
  'nodes',
  'proof_artifacts',
  'refresh_tokens',
  'task_assignments',
  'task_events',
  'task_idempotency_keys',
  'task_queue_places',
  'task_runs',
  'tasks',
  'throttle_overrides',
  'users',
  'wasm_modules',
];

async function upDownUp(ds: DataSource) {
  await ds.runMigrations({ transaction: 'each' });
  const first = await schemaSnapshot(ds);
  for (let i = 0; i < MIGRATIONS.length; i++) await ds.undoLastMigration({ transaction: 'each' });
  const empty = await schemaSnapshot(ds);
  const applied = await ds.query('SELECT count(*)::int AS n FROM migrations');
  await ds.runMigrations({ transaction: 'each' });
  const second = await schemaSnapshot(ds);
  return { first, empty, applied: applied[0].n as number, second };
}

describe('migrations', () => {
  it('declare no index inline in CREATE TABLE', async () => {
    const statements = await migrationStatements();
    expect(statements.length).toBeGreaterThan(30);
    const offenders = statements.filter((s) => hasInlineIndex(s.sql)).map((s) => s.migration);
    expect(offenders).toEqual([]);
  });

  it('the inline-INDEX check catches the original audit_log syntax (negative control)', () => {
    const original = `CREATE TABLE audit_log (log_id uuid PRIMARY KEY, action varchar(64) NOT NULL,
      created_at timestamptz, INDEX idx_audit_log_action (action), INDEX idx_audit_log_created_at (created_at))`;
    expect(hasInlineIndex(original)).toBe(true);
    expect(hasInlineIndex('CREATE INDEX idx_a ON audit_log (action)')).toBe(false);
  });

  describeEachDatabase('on %s: up → down → up', (database) => {
    let env: TestEnv;
    let ds: DataSource;
    let result: Awaited<ReturnType<typeof upDownUp>>;

    beforeAll(async () => {
      env = await createTestEnv(database, {}, { migrated: false });
      ds = await createDataSource(env.config, { migrationsRun: false });
      await ds.initialize();
      result = await upDownUp(ds);
    });

    afterAll(async () => {
      await ds?.destroy();
      await env?.dispose();
    });

    it('creates every table of the schema', () => {
      const tables = (result.first.tables as { table_name: string }[]).map((t) => t.table_name);
      expect(tables).toEqual(EXPECTED_TABLES);
    });

    it('leaves nothing but the migrations table after all downs', () => {
      expect(result.empty.tables).toEqual([{ table_name: 'migrations' }]);
      expect(result.empty.indexes).toEqual([
        expect.objectContaining({ tablename: 'migrations', indexname: expect.stringMatching(/^PK_/) }),
      ]);
      expect(result.applied).toBe(0);
    });

    it('rebuilds an identical schema (tables, columns, types, indexes, constraints)', () => {
      expect(result.second).toEqual(result.first);
      expect(result.first.indexes.length).toBeGreaterThan(30);
      expect(result.first.constraints.length).toBeGreaterThan(30);
    });

    it('has the corrections: task creator, CHECKed enums, no plaintext key column', () => {
      const columns = result.first.columns as { table_name: string; column_name: string }[];
      expect(columns).toContainEqual(
        expect.objectContaining({ table_name: 'tasks', column_name: 'creator_id' }),
      );
      expect(columns.filter((c) => /^(api_key|key|token|refresh_token)$/.test(c.column_name))).toEqual([]);
      const checks = (result.first.constraints as { conname: string }[]).map((c) => c.conname);
      expect(checks).toEqual(
        expect.arrayContaining([
          'users_role_check',
          'nodes_node_type_check',
          'tasks_status_check',
          'api_keys_key_hash_format_check',
        ]),
      );
    });

    it('enforces the constraints on real rows', async () => {
      await expect(
        ds.query(`INSERT INTO users (username, password_hash, role) VALUES ('abc', 'x', 'root')`),
      ).rejects.toThrow(/users_role_check/);
      await ds.query(`INSERT INTO users (username, password_hash) VALUES ('Alice', 'x')`);
      await expect(
        ds.query(`INSERT INTO users (username, password_hash) VALUES ('alice', 'x')`),
      ).rejects.toThrow(/users_username_lower_key/);
      const [{ user_id }] = await ds.query(`SELECT user_id FROM users WHERE username = 'Alice'`);
      await expect(
        ds.query(
          `INSERT INTO api_keys (user_id, name, key_hash, key_prefix) VALUES ($1, 'k', 'vcp_plaintextkey', 'vcp_plaintex')`,
          [user_id],
        ),
      ).rejects.toThrow(/api_keys_key_hash_format_check/);
      await expect(
        ds.query(
          `INSERT INTO tasks (creator_id, task_type, status, max_execution_time_sec) VALUES ($1, 'wasm_execution', 'done', 10)`,
          [user_id],
        ),
      ).rejects.toThrow(/tasks_status_check/);
    });

    it('keeps runs of one task on distinct nodes and fences them from a sequence', async () => {
      const [{ user_id }] = await ds.query(
        `INSERT INTO users (username, password_hash) VALUES ('runner', 'x') RETURNING user_id`,
      );
      await ds.query(
        `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb)
           VALUES ('n-1', $1, 'eu', 'compute', 100, 2, 4)`,
        [user_id],
      );
      const [{ task_id }] = await ds.query(
        `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec) VALUES ($1, 'computation', 10)
           RETURNING task_id`,
        [user_id],
      );
      const insertRun = `INSERT INTO task_runs (task_id, node_id, lease_expires_at) VALUES ($1, 'n-1', now())
        RETURNING fence`;
      const [first] = await ds.query(insertRun, [task_id]);
      await expect(ds.query(insertRun, [task_id])).rejects.toThrow(/task_runs_task_node_key/);
      expect(Number(first.fence)).toBeGreaterThan(0);
      await expect(
        ds.query(`INSERT INTO task_runs (task_id, node_id) VALUES ($1, 'n-1')`, [task_id]),
      ).rejects.toThrow(/task_runs_leased_check|task_runs_task_node_key/);
      await expect(ds.query(`UPDATE tasks SET priority = 10 WHERE task_id = $1`, [task_id])).rejects.toThrow(
        /tasks_priority_check/,
      );
    });

    it('circuit retirement: circuits from before are active; its down drops retired_at and the circuit index', async () => {
      const circuitColumns = async () =>
        (
          await ds.query(
            `SELECT column_name FROM information_schema.columns WHERE table_name = 'circuits' ORDER BY 1`,
          )
        ).map((c: { column_name: string }) => c.column_name);
      const taskIndexes = async () =>
        (
          await ds.query(
            `SELECT indexname FROM pg_indexes WHERE indexname LIKE 'idx_tasks_circuit%' ORDER BY 1`,
          )
        ).map((i: { indexname: string }) => i.indexname);
      expect(await circuitColumns()).toContain('retired_at');
      // CircuitTaskPages replaced CircuitRetirement's index with one that also holds the page order.
      expect(await taskIndexes()).toEqual(['idx_tasks_circuit_page']);
      const pages = MIGRATIONS.indexOf(CircuitTaskPages20261204000000);
      for (let i = MIGRATIONS.length - 1; i >= pages; i--)
        await ds.undoLastMigration({ transaction: 'each' });
      expect(await taskIndexes()).toEqual(['idx_tasks_circuit_id']);
      await ds.runMigrations({ transaction: 'each' });

      // Down to just before it (later migrations first).
      const at = MIGRATIONS.indexOf(CircuitRetirement20261202160000);
      expect(at).toBeGreaterThan(0);
      for (let i = MIGRATIONS.length - 1; i >= at; i--) await ds.undoLastMigration({ transaction: 'each' });
      expect(await circuitColumns()).not.toContain('retired_at');
      expect(await circuitColumns()).toContain('created_at');
      expect(await taskIndexes()).toEqual([]);
      const key = '{"protocol":"groth16"}';
      await ds.query(
        `INSERT INTO circuits (circuit_id, name, protocol, curve, n_public, verification_key)
         VALUES (encode(sha256(convert_to($1, 'UTF8')), 'hex'), 'before', 'groth16', 'bn128', 1, $1)`,
        [key],
      );
      await ds.runMigrations({ transaction: 'each' });
      expect(await ds.query(`SELECT name, retired_at FROM circuits`)).toEqual([
        { name: 'before', retired_at: null },
      ]);
      expect(await taskIndexes()).toEqual(['idx_tasks_circuit_page']);
    });

    it("node telemetry: a node from before starts from its history's latest value of each part", async () => {
      const at = MIGRATIONS.indexOf(NodeTelemetry20261204120000);
      for (let i = MIGRATIONS.length - 1; i >= at; i--) await ds.undoLastMigration({ transaction: 'each' });
      const [{ user_id }] = await ds.query(
        `INSERT INTO users (username, password_hash) VALUES ('telemetry', 'x') RETURNING user_id`,
      );
      await ds.query(
        `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb)
           VALUES ('t-1', $1, 'eu', 'compute', 100, 2, 4), ('t-2', $1, 'eu', 'compute', 100, 2, 4)`,
        [user_id],
      );
      await ds.query(
        `INSERT INTO node_heartbeat_history (node_id, bucket_start, health_score, cpu_usage, memory_usage,
                                             network_latency_ms, status)
         VALUES ('t-1', now() - interval '2 minutes', 80, 10, 30, 70, 'online'),
                ('t-1', now() - interval '1 minute', 80, 20, NULL, NULL, 'online')`,
      );
      await ds.runMigrations({ transaction: 'each' });
      expect(
        await ds.query(
          `SELECT node_id, cpu_usage::float8 AS cpu, memory_usage::float8 AS memory, network_latency_ms AS latency
             FROM nodes WHERE node_id LIKE 't-%' ORDER BY node_id`,
        ),
      ).toEqual([
        { node_id: 't-1', cpu: 20, memory: 30, latency: 70 },
        { node_id: 't-2', cpu: null, memory: null, latency: null },
      ]);
    });
  });
});
