import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many outages the control plane's clock has credited, and how many leases they extended, counted in the
 * row itself: a credit may commit with no replica hearing of it (a tick sent into a frozen database times out
 * on the client and still runs at the thaw), so a replica's own count of the answers it got misses exactly the
 * longest outages. Every tick reads the counts back (vcp_control_plane_outages_credited_total).
 */
export class ControlPlaneClockCounts20261208000000 implements MigrationInterface {
  name = 'ControlPlaneClockCounts20261208000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE control_plane_clock
         ADD COLUMN outages_credited bigint NOT NULL DEFAULT 0,
         ADD COLUMN leases_credited bigint NOT NULL DEFAULT 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE control_plane_clock DROP COLUMN outages_credited, DROP COLUMN leases_credited`,
    );
  }
}
