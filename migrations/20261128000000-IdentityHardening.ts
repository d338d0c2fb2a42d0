import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Accounts that can be disabled and carry an optional email; refresh tokens grouped into families (one per
 * login) with an absolute lifetime, so rotation, reuse detection and logout can act on a whole family.
 */
export class IdentityHardening20261128000000 implements MigrationInterface {
  name = 'IdentityHardening20261128000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN email varchar(254)`);
    await q.query(`ALTER TABLE users ADD COLUMN disabled_at timestamptz`);
    await q.query(`ALTER TABLE users ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(
      `ALTER TABLE users ADD CONSTRAINT users_username_format_check CHECK (username ~ '^[A-Za-z0-9_]{3,32}$')`,
    );
    await q.query(
      `CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)) WHERE email IS NOT NULL`,
    );
    // "Is there another active admin?" is asked before every demotion or disable.
    await q.query(`CREATE INDEX idx_users_active_admins ON users (role) WHERE disabled_at IS NULL`);
    await q.query(`CREATE INDEX idx_users_created_at ON users (created_at, user_id)`);

    await q.query(`ALTER TABLE refresh_tokens ADD COLUMN family_id uuid NOT NULL`);
    await q.query(`ALTER TABLE refresh_tokens ADD COLUMN family_expires_at timestamptz NOT NULL`);
    await q.query(
      `ALTER TABLE refresh_tokens ADD COLUMN parent_id uuid REFERENCES refresh_tokens (token_id) ON DELETE SET NULL`,
    );
    await q.query(`CREATE INDEX idx_refresh_tokens_family ON refresh_tokens (family_id)`);
    await q.query(`CREATE INDEX idx_refresh_tokens_parent ON refresh_tokens (parent_id)`);
    // The database itself guarantees that no family ever has two live tokens, whatever the races above it.
    await q.query(
      `CREATE UNIQUE INDEX refresh_tokens_one_live_per_family ON refresh_tokens (family_id) WHERE revoked_at IS NULL`,
    );
    await q.query(
      `ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_revoked_reason_check CHECK (
         revoked_reason IS NULL OR revoked_reason IN
           ('rotated', 'reuse_detected', 'logout', 'logout_all', 'user_disabled', 'expired'))`,
    );
    await q.query(
      `ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_lifetime_check CHECK (expires_at <= family_expires_at)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_lifetime_check`);
    await q.query(`ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_revoked_reason_check`);
    await q.query(`DROP INDEX refresh_tokens_one_live_per_family`);
    await q.query(`DROP INDEX idx_refresh_tokens_parent`);
    await q.query(`DROP INDEX idx_refresh_tokens_family`);
    await q.query(`ALTER TABLE refresh_tokens DROP COLUMN parent_id`);
    await q.query(`ALTER TABLE refresh_tokens DROP COLUMN family_expires_at`);
    await q.query(`ALTER TABLE refresh_tokens DROP COLUMN family_id`);
    await q.query(`DROP INDEX idx_users_created_at`);
    await q.query(`DROP INDEX idx_users_active_admins`);
    await q.query(`DROP INDEX users_email_lower_key`);
    await q.query(`ALTER TABLE users DROP CONSTRAINT users_username_format_check`);
    await q.query(`ALTER TABLE users DROP COLUMN updated_at`);
    await q.query(`ALTER TABLE users DROP COLUMN disabled_at`);
    await q.query(`ALTER TABLE users DROP COLUMN email`);
  }
}
