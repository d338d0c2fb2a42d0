import { ApiKeysRepository } from '../../../src/api-keys/api-keys.repository';
import { DatabaseFixture, databaseFixture, rowsReadBy } from '../../support/database-fixture';
import { describeEachDatabase } from '../../support/databases';

const OTHER_KEYS = 3000;
const NODE_KEYS = 300;

/**
 * `GET /nodes/:node_id/keys` reads a page of the node's keys through idx_api_keys_node_page: revoked and expired
 * keys are listed too, which the live-key index leaves out, so without it a page scans api_keys (every user's
 * and node's keys). Counted as rows read from api_keys (pg_stat_xact_user_tables), not as time.
 */
describeEachDatabase('paging a node’s keys on %s', (database) => {
  let fixture: DatabaseFixture;
  let keys: ApiKeysRepository;

  beforeAll(async () => {
    fixture = await databaseFixture(database, [ApiKeysRepository]);
    keys = fixture.moduleRef.get(ApiKeysRepository);
    const { session } = fixture;
    const [{ user_id }] = await session.query<{ user_id: string }>(
      `INSERT INTO users (username, password_hash, role) VALUES ('operator', 'x', 'user') RETURNING user_id`,
    );
    await session.query(
      `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb)
       VALUES ('rotated', $1, 'r', 'compute', 100, 4, 8), ('other', $1, 'r', 'compute', 100, 4, 8)`,
      [user_id],
    );
    // A node's key history (revoked, as past keys are), among many keys of the user and of another node.
    const insertKeys = (nodeId: string | null, count: number, offset: number) =>
      session.query(
        `INSERT INTO api_keys (user_id, node_id, name, key_hash, key_prefix, revoked_at, created_at)
         SELECT $1, $2, 'k', encode(sha256(convert_to(i::text, 'UTF8')), 'hex'),
                'vcp_' || lpad(i::text, 8, '0'), CASE WHEN i > $3 THEN now() END,
                now() - make_interval(secs => i)
           FROM generate_series($3 + 1, $3 + $4) AS i`,
        [user_id, nodeId, offset, count],
      );
    await insertKeys(null, OTHER_KEYS, 0);
    await insertKeys('other', OTHER_KEYS, OTHER_KEYS);
    await insertKeys('rotated', NODE_KEYS, 2 * OTHER_KEYS);
    await session.query('ANALYZE api_keys');
  });

  afterAll(() => fixture?.close());

  it('reads one page of the node’s keys, revoked ones included, not every key', async () => {
    let first: Awaited<ReturnType<ApiKeysRepository['listNodeKeys']>> = [];
    const firstRead = await rowsReadBy(fixture, 'api_keys', async () => {
      first = await keys.listNodeKeys('rotated', null, 11);
    });
    expect(first).toHaveLength(11);
    expect(first.every((key) => key.revokedAt !== null)).toBe(true);
    const last = first[9];
    let second: typeof first = [];
    const secondRead = await rowsReadBy(fixture, 'api_keys', async () => {
      second = await keys.listNodeKeys('rotated', { t: last.createdAt.toISOString(), id: last.keyId }, 11);
    });
    expect(second[0].keyId).toBe(first[10].keyId);
    // A scan reads the 6 000 keys of others; sorting the node's history reads its 300.
    expect([firstRead, secondRead].filter((read) => read >= 50)).toEqual([]);
  });
});
