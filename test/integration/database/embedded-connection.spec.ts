import { Client } from 'pg';
import { EmbeddedConnection, PGliteProtocol } from '../../../src/database/embedded-connection';

type PGliteInstance = PGliteProtocol & { close(): Promise<void> };

/** node-postgres on a real in-memory PGlite through EmbeddedConnection, counting PGlite's protocol calls. */
describe('EmbeddedConnection (node-postgres on PGlite)', () => {
  let pglite: PGliteInstance;
  let calls = 0;
  /** The backend messages PGlite answered with, by name, since the last reset. */
  let answered: string[] = [];
  let client: Client;

  const connect = async (connection: unknown) => {
    const next = new Client({ connection, user: 'postgres', password: 'x', database: 'postgres' } as never);
    await next.connect();
    return next;
  };

  beforeAll(async () => {
    const { PGlite } = await import('@electric-sql/pglite');
    pglite = await PGlite.create();
    const exec = pglite.execProtocolStream.bind(pglite);
    pglite.execProtocolStream = async (message, options) => {
      calls++;
      const answers = await exec(message, options);
      answered.push(...answers.map((answer) => answer.name));
      return answers;
    };
    client = await connect(new EmbeddedConnection(pglite));
    await client.query('CREATE TABLE probe (id int PRIMARY KEY, label text NOT NULL)');
  });

  afterAll(async () => {
    await client?.end();
    await pglite?.close();
  });

  it('sends a statement’s messages to PGlite in one call', async () => {
    await client.query({
      name: 'probe_insert',
      text: 'INSERT INTO probe VALUES ($1, $2)',
      values: [1, 'one'],
    });
    calls = 0;
    const inserted = await client.query({
      name: 'probe_insert',
      text: 'INSERT INTO probe VALUES ($1, $2)',
      values: [2, 'two'],
    });
    expect(inserted.rowCount).toBe(1);
    expect(calls).toBe(1);
    calls = 0;
    const rows = await client.query('SELECT id, label FROM probe WHERE id = $1', [2]);
    expect(rows.rows).toEqual([{ id: 2, label: 'two' }]);
    expect(calls).toBe(1); // parse, bind, describe, execute and sync together
  });

  it('describes a prepared statement once; later executions get the same fields from the replayed answer', async () => {
    const read = { name: 'probe_read', text: 'SELECT id, label FROM probe WHERE id = $1' };
    const first = await client.query({ ...read, values: [1] });
    answered = [];
    const second = await client.query({ ...read, values: [2] });
    expect(answered).not.toContain('rowDescription'); // not asked for, not parsed again
    expect(answered).toContain('dataRow');
    expect(second.fields.map((field) => field.name)).toEqual(['id', 'label']);
    expect(second.fields).toEqual(first.fields);
    expect(second.rows).toEqual([{ id: 2, label: 'two' }]);
    // An unnamed statement is described on every execution (negative control).
    answered = [];
    await client.query('SELECT id FROM probe WHERE id = $1', [1]);
    expect(answered).toContain('rowDescription');
  });

  it('a described statement that fails to bind reports the error and runs again afterwards', async () => {
    const typed = { name: 'probe_typed', text: 'SELECT $1::int + 1 AS n' };
    expect((await client.query({ ...typed, values: [1] })).rows).toEqual([{ n: 2 }]);
    await expect(client.query({ ...typed, values: ['one'] })).rejects.toMatchObject({ code: '22P02' });
    expect((await client.query({ ...typed, values: [41] })).rows).toEqual([{ n: 42 }]);
  });

  it('replays "no rows" for a prepared write', async () => {
    const write = { name: 'probe_relabel', text: 'UPDATE probe SET label = $2 WHERE id = $1' };
    expect((await client.query({ ...write, values: [1, 'uno'] })).rowCount).toBe(1);
    answered = [];
    const again = await client.query({ ...write, values: [1, 'one'] });
    expect(answered).not.toContain('noData');
    expect(again.rowCount).toBe(1);
    expect(again.rows).toEqual([]);
  });

  it('PGlite’s own adapter makes one call per message (negative control)', async () => {
    const { createPgConfig } = await import('@electric-sql/pglite/node-postgres');
    const theirs = await connect(createPgConfig(pglite as never).connection);
    try {
      calls = 0;
      await theirs.query('SELECT id FROM probe WHERE id = $1', [1]);
      expect(calls).toBeGreaterThanOrEqual(4);
    } finally {
      await theirs.end();
    }
  });

  it('reports a failing statement as the database error and stays usable', async () => {
    await expect(client.query('INSERT INTO probe VALUES ($1, $2)', [1, 'again'])).rejects.toMatchObject({
      code: '23505',
    });
    await expect(client.query('SELECT $1::int AS n', ['not a number'])).rejects.toMatchObject({
      code: '22P02',
    });
    expect((await client.query('SELECT count(*)::int AS n FROM probe')).rows).toEqual([{ n: 2 }]);
  });

  it('keeps queries issued together in order, each with its own answer', async () => {
    const answers = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => client.query('SELECT $1::int * 10 AS n', [n]).then((r) => r.rows[0].n)),
    );
    expect(answers).toEqual([10, 20, 30, 40, 50]);
  });

  it('rolls a failed transaction back whole', async () => {
    await client.query('BEGIN');
    await client.query('INSERT INTO probe VALUES ($1, $2)', [3, 'three']);
    await expect(client.query('INSERT INTO probe VALUES ($1, $2)', [3, 'dup'])).rejects.toMatchObject({
      code: '23505',
    });
    await client.query('ROLLBACK');
    expect((await client.query('SELECT id FROM probe ORDER BY id')).rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('serves the next client after one ends (the pool reuses the one connection)', async () => {
    const connection = new EmbeddedConnection(pglite);
    const first = await connect(connection);
    await first.end();
    const second = await connect(connection);
    try {
      expect((await second.query('SELECT 41 + 1 AS n')).rows).toEqual([{ n: 42 }]);
    } finally {
      await second.end();
    }
  });
});
