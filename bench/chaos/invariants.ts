/**
 * The invariants a fault-injection run is judged by (issue 19), checked in SQL once the system is quiet. They
 * read the tables and the `task_events` trail (written by triggers inside each changing transaction, so it is
 * exactly what committed, in order): a violation is evidence, never an inference from timing.
 */

/** Anything with pg's `query(text, values)` (a pg Client or Pool). */
export interface Queryable {
  query<Row = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: Row[] }>;
}

export interface InvariantResult {
  name: string;
  /** What holds when there are no violations. */
  holds: string;
  violations: number;
  /** Up to five offending ids. */
  examples: string[];
}

interface Invariant {
  name: string;
  holds: string;
  /** One row per violation, with an `id` column; `$1` is the task ids in scope (uuid[]). */
  sql: string;
}

const INVARIANTS: Invariant[] = [
  {
    name: 'every task terminal',
    holds: 'no task is pending or running',
    sql: `SELECT task_id::text AS id FROM tasks
           WHERE task_id = ANY($1::uuid[]) AND status IN ('pending', 'running')`,
  },
  {
    name: 'no task completed twice',
    holds: 'each completed task has exactly one completion event',
    sql: `SELECT task_id::text AS id FROM task_events
           WHERE task_id = ANY($1::uuid[]) AND event_type = 'status' AND data->>'status' = 'completed'
           GROUP BY task_id HAVING count(*) > 1`,
  },
  {
    name: 'no stale result accepted',
    holds: 'no run succeeded after its lease had expired or been withdrawn',
    sql: `SELECT data->>'run_id' AS id FROM task_events
           WHERE task_id = ANY($1::uuid[]) AND event_type = 'run'
           GROUP BY data->>'run_id'
          HAVING max(event_id) FILTER (WHERE data->>'status' = 'succeeded')
               > min(event_id) FILTER (WHERE data->>'status' IN ('expired', 'cancelled'))`,
  },
  {
    name: 'runs as verification needs',
    holds:
      'every completed task has its canonical run succeeded; a quorum task has ≥ quorum valid runs of ' +
      'distinct owners, all with the canonical output hash',
    sql: `SELECT t.task_id::text AS id FROM tasks t
            LEFT JOIN task_runs c ON c.run_id = t.canonical_run_id
           WHERE t.task_id = ANY($1::uuid[]) AND t.status = 'completed'
             AND (c.run_id IS NULL OR c.status <> 'succeeded'
                  OR (t.min_nodes > 1 AND t.run_target > 1 AND t.task_type <> 'zk_proof' AND NOT EXISTS (
                        SELECT 1 FROM task_runs v WHERE v.task_id = t.task_id AND v.verdict = 'valid'
                        HAVING count(*) >= t.quorum AND count(DISTINCT v.node_owner_id) = count(*)
                           AND bool_and(v.output_hash = c.output_hash))))`,
  },
  {
    name: 'fences increase',
    holds: "each task's runs were leased with strictly increasing fences",
    sql: `SELECT task_id::text AS id FROM (
            SELECT e.task_id, r.fence, lag(r.fence) OVER (PARTITION BY e.task_id ORDER BY e.event_id) AS previous
              FROM task_events e JOIN task_runs r ON r.run_id = (e.data->>'run_id')::uuid
             WHERE e.task_id = ANY($1::uuid[]) AND e.event_type = 'run' AND e.data->>'status' = 'leased') f
           WHERE previous IS NOT NULL AND fence <= previous
           GROUP BY task_id`,
  },
  {
    name: 'no leases left',
    holds: 'no run is still leased',
    sql: `SELECT run_id::text AS id FROM task_runs WHERE task_id = ANY($1::uuid[]) AND status = 'leased'`,
  },
];

/** Checks every invariant over the given tasks. */
export async function checkInvariants(db: Queryable, taskIds: string[]): Promise<InvariantResult[]> {
  const results: InvariantResult[] = [];
  for (const invariant of INVARIANTS) {
    const { rows } = await db.query<{ id: string }>(invariant.sql, [taskIds]);
    results.push({
      name: invariant.name,
      holds: invariant.holds,
      violations: rows.length,
      examples: rows.slice(0, 5).map((row) => row.id),
    });
  }
  return results;
}

/** The summary table a chaos run prints. */
export function invariantTable(results: InvariantResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  return results
    .map(
      (r) =>
        `${r.violations === 0 ? 'holds ' : 'BROKEN'}  ${r.name.padEnd(width)}  ` +
        (r.violations === 0 ? r.holds : `${r.violations} violation(s), e.g. ${r.examples.join(', ')}`),
    )
    .join('\n');
}
