import { join } from 'node:path';
import { Client } from 'pg';
import { testConfig, TestConfig } from '../support/config';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { runNode } from '../support/node-script';
import { requireBuild } from '../support/server-process';

const CLI = join(__dirname, '../../dist/src/cli.js');

/** `npm run cli -- create-admin <username>` runs `node dist/src/cli.js create-admin <username>`. */
describe('create-admin CLI', () => {
  let db: TestDatabase;
  let env: TestConfig;

  beforeAll(async () => {
    requireBuild();
    db = await createTestDatabase();
    env = testConfig({ DATABASE_URL: db.url });
  });

  afterAll(async () => {
    await db?.drop();
    env?.cleanup();
  });

  const run = (args: string[], stdin: string, extraEnv: Record<string, string> = {}) =>
    runNode([CLI, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: db.url,
        DATA_DIR: env.dataDir,
        BCRYPT_COST: '4',
        ...extraEnv,
      },
      stdin,
    });

  async function roleOf(username: string): Promise<string | undefined> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ role: string }>('SELECT role FROM users WHERE username = $1', [
        username,
      ]);
      return rows[0]?.role;
    } finally {
      await client.end();
    }
  }

  it('creates an admin from a password typed twice, then is idempotent', async () => {
    const first = await run(['create-admin', 'cli_admin'], 'a long password\na long password\n');
    expect(first).toMatchObject({ code: 0 });
    expect(first.output).toContain('created');
    expect(first.output).not.toContain('a long password');
    expect(await roleOf('cli_admin')).toBe('admin');
    const second = await run(['create-admin', 'cli_admin'], 'a long password\na long password\n');
    expect(second.output).toContain('unchanged');
  });

  it('refuses mismatched or weak passwords and bad usage without touching the database', async () => {
    expect((await run(['create-admin', 'cli_other'], 'a long password\ndifferent one\n')).code).toBe(2);
    const weak = await run(['create-admin', 'cli_other'], 'short\nshort\n');
    expect(weak.code).toBe(1);
    expect(weak.output).toMatch(/password must be 8 to 72 bytes/);
    expect((await run(['create-admin'], '')).code).toBe(2);
    expect(await roleOf('cli_other')).toBeUndefined();
  });

  it('prints its usage and exits 0 on --help, as the agent does, without taking --help for a username', async () => {
    for (const args of [['--help'], ['create-admin', '--help'], ['-h']]) {
      const help = await run(args, '');
      expect(help).toMatchObject({ code: 0 });
      expect(help.output).toMatch(/^usage: npm run cli -- create-admin <username>/);
    }
    expect(await roleOf('--help')).toBeUndefined();
  });

  it('makes an existing account admin only with its own password; --reset-password sets a new one', async () => {
    expect((await run(['create-admin', 'cli_owner'], 'first password\nfirst password\n')).code).toBe(0);
    const other = await run(['create-admin', 'cli_owner'], 'other password\nother password\n');
    // Already an active admin: left as it is, and not a success (a provisioning script's typo must show).
    expect(other.code).toBe(78);
    expect(other.output).toContain('unchanged');
    expect(other.output).toContain(
      'not its password, which is left as it is (`npm run cli -- create-admin cli_owner --reset-password` sets it)',
    );
    const reset = await run(
      ['create-admin', 'cli_owner', '--reset-password'],
      'other password\nother password\n',
    );
    expect(reset).toMatchObject({ code: 0 });
    expect(reset.output).toContain('password reset');
    expect(reset.output).not.toContain('other password');
    expect((await run(['create-admin', 'cli_owner', 'extra'], '')).code).toBe(2);
  });

  it('exits 78 as the server does on a bad variable and on an account with another password', async () => {
    const bad = await run(['create-admin', 'cli_cfg'], '', { BCRYPT_COST: '99' });
    expect(bad).toMatchObject({ code: 78 });
    expect(bad.output).toMatch(/^Invalid configuration:\n {2}- BCRYPT_COST: must be a whole number from/);
    expect((await run(['create-admin', 'cli_user'], 'its password\nits password\n')).code).toBe(0);
    const client = new Client({ connectionString: db.url });
    await client.connect();
    await client
      .query(`UPDATE users SET role = 'user' WHERE username = 'cli_user'`)
      .finally(() => client.end());
    const mismatch = await run(['create-admin', 'cli_user'], 'another password\nanother password\n');
    expect(mismatch).toMatchObject({ code: 78 });
    expect(mismatch.output).toContain('exists with another password');
    expect(mismatch.output).toContain('`npm run cli -- create-admin cli_user --reset-password`');
    expect(await roleOf('cli_user')).toBe('user');
  });
});
