import { MigrationInterface, QueryRunner } from 'typeorm';

/** Admin overrides of rate limits per user, API key or client IP; and the allowed API-key tiers. */
export class ThrottleOverrides20261128000200 implements MigrationInterface {
  name = 'ThrottleOverrides20261128000200';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE throttle_overrides (
        override_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        subject_type varchar(16) NOT NULL,
        subject_id varchar(128) NOT NULL,
        tier varchar(32),
        rpm integer,
        burst integer,
        expires_at timestamptz NOT NULL,
        created_by uuid REFERENCES users (user_id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT throttle_overrides_subject_type_check CHECK (subject_type IN ('user', 'api_key', 'ip')),
        CONSTRAINT throttle_overrides_tier_check CHECK (tier IS NULL OR tier IN ('general', 'elevated', 'unlimited')),
        CONSTRAINT throttle_overrides_rpm_check CHECK (rpm IS NULL OR rpm BETWEEN 1 AND 1000000),
        CONSTRAINT throttle_overrides_burst_check CHECK (burst IS NULL OR burst BETWEEN 1 AND 100000),
        CONSTRAINT throttle_overrides_effect_check CHECK (tier IS NOT NULL OR rpm IS NOT NULL OR burst IS NOT NULL)
      )`);
    await q.query(
      `CREATE INDEX idx_throttle_overrides_subject ON throttle_overrides (subject_type, subject_id)`,
    );
    await q.query(`CREATE INDEX idx_throttle_overrides_expires_at ON throttle_overrides (expires_at)`);
    await q.query(
      `ALTER TABLE api_keys ADD CONSTRAINT api_keys_rate_limit_tier_check
         CHECK (rate_limit_tier IN ('general', 'elevated', 'unlimited'))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP CONSTRAINT api_keys_rate_limit_tier_check`);
    await q.query(`DROP TABLE throttle_overrides`);
  }
}
