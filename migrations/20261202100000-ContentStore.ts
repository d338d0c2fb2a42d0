import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Shared content (issue 19): on PostgreSQL, modules and circuit files live here, so every API replica reads
 * what any replica stored; a replica's disk only caches them. An object is its `content_objects` row plus
 * `chunk_count` chunks, all written in one transaction: a crash mid-upload leaves nothing visible, which is
 * why there is no "complete" flag. The embedded database (PGlite) gets the tables but keeps using the file
 * system store.
 */
export class ContentStore20261202100000 implements MigrationInterface {
  name = 'ContentStore20261202100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE content_objects (
        namespace varchar(64) NOT NULL,
        sha256 varchar(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
        chunk_count integer NOT NULL CHECK (chunk_count >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (namespace, sha256)
      )`);
    await q.query(`
      CREATE TABLE content_chunks (
        namespace varchar(64) NOT NULL,
        sha256 varchar(64) NOT NULL,
        seq integer NOT NULL CHECK (seq >= 0),
        bytes bytea NOT NULL,
        PRIMARY KEY (namespace, sha256, seq),
        FOREIGN KEY (namespace, sha256) REFERENCES content_objects (namespace, sha256) ON DELETE CASCADE
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE content_chunks`);
    await q.query(`DROP TABLE content_objects`);
  }
}
