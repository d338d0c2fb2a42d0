import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The original dropped a plaintext users.api_key column here; this schema never had one. What remains to
 * harden is the shape of what is stored: a hash column can only ever hold a lowercase hex HMAC-SHA256 digest,
 * so a bug that writes a plaintext token or key fails loudly instead of persisting a secret.
 */
export class HardenKeyStorage20240109000000 implements MigrationInterface {
  name = 'HardenKeyStorage20240109000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN IF EXISTS api_key`);
    await q.query(
      `ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_token_hash_format_check
         CHECK (token_hash ~ '^[0-9a-f]{64}$')`,
    );
    await q.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_key_hash_format_check CHECK (key_hash ~ '^[0-9a-f]{64}$')`,
    );
    await q.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_key_prefix_length_check CHECK (char_length(key_prefix) <= 12)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_key_prefix_length_check`);
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_key_hash_format_check`);
    await q.query(`ALTER TABLE refresh_tokens DROP CONSTRAINT refresh_tokens_token_hash_format_check`);
  }
}
