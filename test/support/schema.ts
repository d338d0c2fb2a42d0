import { DataSource, QueryRunner } from 'typeorm';
import { MIGRATIONS } from '../../migrations';

/** The schema as the catalogs describe it: tables, columns with types, indexes and constraints. */
export async function schemaSnapshot(ds: DataSource): Promise<Record<string, unknown[]>> {
  const tables = await ds.query(
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const columns = await ds.query(
    `SELECT table_name, column_name, data_type, udt_name, character_maximum_length, numeric_precision,
            numeric_scale, is_nullable, column_default
       FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  );
  const indexes = await ds.query(
    `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
  );
  const constraints = await ds.query(
    `SELECT conrelid::regclass::text AS table_name, conname, contype, pg_get_constraintdef(oid) AS definition
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
  );
  return { tables, columns, indexes, constraints };
}

/** Every SQL statement the migrations' `up` would run, captured without a database. */
export async function migrationStatements(): Promise<{ migration: string; sql: string }[]> {
  const statements: { migration: string; sql: string }[] = [];
  for (const Migration of MIGRATIONS) {
    const migration = new Migration();
    const recorder = {
      query: (sql: string) => {
        statements.push({ migration: migration.name, sql });
        return Promise.resolve([]);
      },
    } as unknown as QueryRunner;
    await migration.up(recorder);
  }
  return statements;
}

/** True when a CREATE TABLE declares an index inline (MySQL syntax that PostgreSQL rejects). */
export function hasInlineIndex(sql: string): boolean {
  if (!/^\s*CREATE\s+(UNLOGGED\s+|TEMP(ORARY)?\s+)?TABLE\b/i.test(sql)) return false;
  const body = sql.slice(sql.indexOf('('));
  return /(^|[,(]\s*)(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?(INDEX|KEY)\s+\w+\s*\(/im.test(body);
}

/** Every row of every table, as one JSON text: for "no secret is stored anywhere" checks. */
export async function dumpEveryTable(ds: DataSource): Promise<string> {
  const tables: { table_name: string }[] = await ds.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`,
  );
  const rows = await Promise.all(tables.map(({ table_name }) => ds.query(`SELECT * FROM "${table_name}"`)));
  expect(tables.length).toBeGreaterThan(10);
  return JSON.stringify(rows);
}
