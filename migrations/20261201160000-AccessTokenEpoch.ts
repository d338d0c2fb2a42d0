import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The generation of a user's access tokens. Each access token carries the value it was issued under; logout-all
 * and refresh-token reuse raise it, which cuts every token issued before (checked through the user-status
 * cache). A counter rather than a timestamp: JWT `iat` has one-second resolution and comes from a replica's
 * clock, so a time watermark would either spare a token issued in the same second or refuse the next login.
 */
export class AccessTokenEpoch20261201160000 implements MigrationInterface {
  name = 'AccessTokenEpoch20261201160000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN access_token_epoch integer NOT NULL DEFAULT 0`);
    await q.query(
      `ALTER TABLE users ADD CONSTRAINT users_access_token_epoch_check CHECK (access_token_epoch >= 0)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users DROP COLUMN access_token_epoch`);
  }
}
