import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/**
 * A private, empty PostgreSQL database for one bench run on the server BENCH_DATABASE_URL names (an admin
 * connection, e.g. postgres://postgres@127.0.0.1:5432/postgres); null when it is not set.
 */
export async function benchPostgres(): Promise<{ url: string; drop(): Promise<void> } | null> {
  const adminUrl = process.env.BENCH_DATABASE_URL;
  if (!adminUrl) return null;
  const name = `vcp_bench_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  // The path is replaced as text: Cloud SQL's `postgres://u:p@/db?host=/cloudsql/…` is no WHATWG URL.
  const url = adminUrl.replace(/^(postgres(?:ql)?:\/\/[^/?#]*)(\/[^?#]*)?/i, `$1/${name}`);
  return { url, drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
