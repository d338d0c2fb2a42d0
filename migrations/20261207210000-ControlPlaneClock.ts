import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The control plane's own heartbeat: one row every replica moves every few seconds. A gap in it means no
 * replica reached the database (all paused or down, or PostgreSQL down); the replica that sees the gap first
 * extends the live leases by it and notes when the control plane came back, so that the outage is not charged
 * to the nodes and runs that could not reach it.
 */
export class ControlPlaneClock20261207210000 implements MigrationInterface {
  name = 'ControlPlaneClock20261207210000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE control_plane_clock (
         id smallint PRIMARY KEY CHECK (id = 1),
         seen_at timestamptz NOT NULL,
         resumed_at timestamptz,
         last_outage_secs double precision)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE control_plane_clock`);
  }
}
