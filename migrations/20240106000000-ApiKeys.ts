import { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys: only a keyed hash and a short display prefix are stored, never the key itself. */
export class ApiKeys20240106000000 implements MigrationInterface {
  name = 'ApiKeys20240106000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        key_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
        key_hash varchar(128) NOT NULL,
        key_prefix varchar(16) NOT NULL,
        name varchar(128),
        scopes text[] NOT NULL DEFAULT '{}',
        rate_limit_tier varchar(32) NOT NULL DEFAULT 'general',
        expires_at timestamptz,
        last_used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        revoked_reason varchar(255),
        CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash),
        CONSTRAINT api_keys_scopes_size_check CHECK (cardinality(scopes) <= 64)
      )`);
    await q.query(`CREATE INDEX idx_api_keys_user_id ON api_keys (user_id, created_at DESC)`);
    await q.query(`CREATE INDEX idx_api_keys_key_prefix ON api_keys (key_prefix)`);
    await q.query(`CREATE INDEX idx_api_keys_expires_at ON api_keys (expires_at) WHERE revoked_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_keys`);
  }
}
