import { MigrationInterface, QueryRunner } from 'typeorm';

/** API key lifecycle: named keys, rotation links, revocation reasons, and a fast "live keys of a user" index. */
export class ApiKeyManagement20261128000100 implements MigrationInterface {
  name = 'ApiKeyManagement20261128000100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE api_keys SET name = 'default' WHERE name IS NULL`);
    await q.query(`ALTER TABLE api_keys ALTER COLUMN name SET NOT NULL`);
    await q.query(
      `ALTER TABLE api_keys ADD COLUMN replaced_by uuid REFERENCES api_keys (key_id) ON DELETE SET NULL`,
    );
    await q.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_key_prefix_format_check CHECK (key_prefix ~ '^vcp_[0-9A-Za-z]{8}$')`,
    );
    await q.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_revoked_reason_check
         CHECK (revoked_reason IS NULL OR revoked_reason IN ('revoked', 'rotated', 'owner_deleted'))`,
    );
    await q.query(`CREATE INDEX idx_api_keys_user_live ON api_keys (user_id) WHERE revoked_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_api_keys_user_live`);
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_revoked_reason_check`);
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_key_prefix_format_check`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN replaced_by`);
    await q.query(`ALTER TABLE api_keys ALTER COLUMN name DROP NOT NULL`);
  }
}
