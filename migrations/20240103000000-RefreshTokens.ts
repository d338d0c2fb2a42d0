import { MigrationInterface, QueryRunner } from 'typeorm';

/** Refresh tokens, stored only as a keyed hash (HMAC-SHA256, hex) of the opaque token. */
export class RefreshTokens20240103000000 implements MigrationInterface {
  name = 'RefreshTokens20240103000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE refresh_tokens (
        token_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
        token_hash varchar(128) NOT NULL,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz,
        revoked_reason varchar(255),
        device_info varchar(255),
        ip_address inet,
        CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash)
      )`);
    await q.query(`CREATE INDEX idx_refresh_tokens_user_id ON refresh_tokens (user_id)`);
    await q.query(`CREATE INDEX idx_refresh_tokens_expires_at ON refresh_tokens (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE refresh_tokens`);
  }
}
