import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Users, nodes, tasks and task assignments. Corrected from the original: tasks have a creator (tasks are
 * private to whoever submitted them), enumerations are CHECK-constrained, usernames are unique regardless of
 * case, and the WASM module lives in a content-addressed store (not a TEXT column on the task).
 */
export class InitialSchema20240101000000 implements MigrationInterface {
  name = 'InitialSchema20240101000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE users (
        user_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        username varchar(64) NOT NULL,
        password_hash varchar(128) NOT NULL,
        role varchar(32) NOT NULL DEFAULT 'user',
        created_at timestamptz NOT NULL DEFAULT now(),
        last_login timestamptz,
        CONSTRAINT users_role_check CHECK (role IN ('user', 'admin')),
        CONSTRAINT users_username_length_check CHECK (char_length(username) BETWEEN 1 AND 64)
      )`);
    // Case-insensitive uniqueness: "Alice" and "alice" must not be two accounts (impersonation).
    await q.query(`CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username))`);

    await q.query(`
      CREATE TABLE nodes (
        node_id varchar(64) PRIMARY KEY,
        region varchar(32) NOT NULL,
        node_type varchar(32) NOT NULL,
        bandwidth_mbps double precision NOT NULL,
        cpu_cores integer NOT NULL,
        memory_gb double precision NOT NULL,
        gpu_available boolean NOT NULL DEFAULT false,
        health_score double precision NOT NULL DEFAULT 100.0,
        status varchar(32) NOT NULL DEFAULT 'online',
        registered_at timestamptz NOT NULL DEFAULT now(),
        last_seen timestamptz NOT NULL DEFAULT now(),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT nodes_node_id_format_check CHECK (node_id ~ '^[A-Za-z0-9_-]{1,64}$'),
        CONSTRAINT nodes_node_type_check
          CHECK (node_type IN ('compute', 'gateway', 'storage', 'validator', 'open_internet', 'any')),
        CONSTRAINT nodes_status_check CHECK (status IN ('online', 'offline', 'busy', 'draining', 'suspended')),
        CONSTRAINT nodes_bandwidth_check CHECK (bandwidth_mbps BETWEEN 10 AND 100000),
        CONSTRAINT nodes_cpu_cores_check CHECK (cpu_cores BETWEEN 1 AND 256),
        CONSTRAINT nodes_memory_check CHECK (memory_gb BETWEEN 1 AND 2048),
        CONSTRAINT nodes_health_score_check CHECK (health_score BETWEEN 0 AND 100)
      )`);
    await q.query(`CREATE INDEX idx_nodes_region ON nodes (region)`);
    await q.query(`CREATE INDEX idx_nodes_status ON nodes (status)`);
    await q.query(`CREATE INDEX idx_nodes_type ON nodes (node_type)`);

    await q.query(`
      CREATE TABLE tasks (
        task_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        creator_id uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
        task_type varchar(64) NOT NULL,
        status varchar(32) NOT NULL DEFAULT 'pending',
        inputs jsonb NOT NULL DEFAULT '{}'::jsonb,
        result jsonb,
        proof_id varchar(128),
        min_nodes integer NOT NULL DEFAULT 1,
        max_execution_time_sec bigint NOT NULL,
        require_gpu boolean NOT NULL DEFAULT false,
        require_proof boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        CONSTRAINT tasks_task_type_check
          CHECK (task_type IN ('federated_learning', 'zk_proof', 'wasm_execution', 'computation', 'connect_only')),
        CONSTRAINT tasks_status_check CHECK (
          status IN ('pending', 'assigned', 'running', 'verifying', 'completed', 'failed', 'cancelled')),
        CONSTRAINT tasks_min_nodes_check CHECK (min_nodes BETWEEN 1 AND 1000),
        CONSTRAINT tasks_max_execution_time_check CHECK (max_execution_time_sec BETWEEN 1 AND 3600),
        CONSTRAINT tasks_completed_at_check CHECK (
          completed_at IS NULL OR status IN ('completed', 'failed', 'cancelled'))
      )`);
    // A creator's task list, newest first: the most common query of the API.
    await q.query(`CREATE INDEX idx_tasks_creator_created_at ON tasks (creator_id, created_at DESC)`);
    await q.query(`CREATE INDEX idx_tasks_created_at ON tasks (created_at DESC)`);
    await q.query(`CREATE INDEX idx_tasks_type ON tasks (task_type)`);
    // The scheduler only ever scans unfinished tasks; a partial index keeps that scan small.
    await q.query(
      `CREATE INDEX idx_tasks_open_status ON tasks (status, created_at)
         WHERE status IN ('pending', 'assigned', 'running', 'verifying')`,
    );

    await q.query(`
      CREATE TABLE task_assignments (
        task_id uuid NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        node_id varchar(64) NOT NULL REFERENCES nodes (node_id) ON DELETE CASCADE,
        assigned_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (task_id, node_id)
      )`);
    await q.query(`CREATE INDEX idx_task_assignments_node ON task_assignments (node_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_assignments`);
    await q.query(`DROP TABLE tasks`);
    await q.query(`DROP TABLE nodes`);
    await q.query(`DROP TABLE users`);
  }
}
