import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail. The original declared its indexes inline (MySQL syntax that PostgreSQL rejects); here each
 * is a standalone CREATE INDEX. Rows outlive the user they mention (ON DELETE SET NULL).
 */
export class AuditLog20240107000000 implements MigrationInterface {
  name = 'AuditLog20240107000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE audit_log (
        log_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        user_id uuid REFERENCES users (user_id) ON DELETE SET NULL,
        action varchar(64) NOT NULL,
        resource_type varchar(64),
        resource_id varchar(128),
        ip_address inet,
        user_agent text,
        request_id varchar(36),
        status varchar(32) NOT NULL,
        error_message text,
        metadata jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT audit_log_status_check CHECK (status IN ('success', 'failure', 'denied'))
      )`);
    await q.query(`CREATE INDEX idx_audit_log_user_id ON audit_log (user_id, created_at DESC)`);
    await q.query(`CREATE INDEX idx_audit_log_action ON audit_log (action, created_at DESC)`);
    await q.query(`CREATE INDEX idx_audit_log_resource ON audit_log (resource_type, resource_id)`);
    await q.query(`CREATE INDEX idx_audit_log_created_at ON audit_log (created_at DESC, log_id DESC)`);
    await q.query(`CREATE INDEX idx_audit_log_status ON audit_log (status)`);
    await q.query(`COMMENT ON TABLE audit_log IS 'Audit trail of security-relevant actions'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_log`);
  }
}
