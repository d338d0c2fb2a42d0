/**
 * What `npm run chaos` checks besides the SQL invariants: how fast a killed agent's runs were leased again,
 * that the paused agent's late results were all refused, and that the API tells the same story as the tables.
 */
import type { AgentProcess } from '../cluster/agent-process';
import type { AgentKill, OutageRecord, PauseRecord } from './faults';
import type { Queryable } from './invariants';

export interface RedispatchReport {
  /** Seconds from the kill until another run of the task was leased, for kills clear of the other faults. */
  seconds: number[];
  /** The same for kills whose window a replica kill, the pause or the Redis restart overlapped. */
  duringOtherFaults: number[];
  /** Held runs whose task needed no new run (it had completed, or was completed by the other replicas). */
  notNeeded: number;
  /** Held runs skipped because the PostgreSQL outage overlapped their window (nothing is let without it). */
  overlapped: number;
}

export async function redispatchTimes(
  db: Queryable,
  kills: AgentKill[],
  outages: OutageRecord[],
  windowMs: number,
): Promise<RedispatchReport> {
  const report: RedispatchReport = { seconds: [], duringOtherFaults: [], notNeeded: 0, overlapped: 0 };
  const overlapping = (kill: AgentKill, what: (o: OutageRecord) => boolean) =>
    outages.some((o) => what(o) && o.from <= kill.at + windowMs && o.to >= kill.at);
  for (const kill of kills) {
    const databaseDown = overlapping(kill, (o) => o.what === 'postgres');
    const otherFault = overlapping(kill, (o) => o.what !== 'postgres');
    for (const held of kill.heldRuns) {
      if (databaseDown) {
        report.overlapped++;
        continue;
      }
      const { rows } = await db.query<{ next_ms: string | null }>(
        `SELECT (extract(epoch FROM min(created_at)) * 1000)::bigint::text AS next_ms FROM task_runs
          WHERE task_id = $1 AND run_id <> $2 AND created_at > to_timestamp($3::double precision / 1000)`,
        [held.taskId, held.runId, kill.at],
      );
      const next = rows[0]?.next_ms;
      if (next === null || next === undefined) report.notNeeded++;
      else (otherFault ? report.duringOtherFaults : report.seconds).push((Number(next) - kill.at) / 1000);
    }
  }
  return report;
}

export interface PausedReport {
  held: number;
  /** Results sent before the pause (the agent had finished the run) and answered after it: not late. */
  inFlight: number;
  /** Late results the server refused with 409 (the agent printed `dropped … result_status 409`). */
  refused409: number;
  /** Runs the agent dropped when its first heartbeat after the pause said they were lost. */
  droppedAtHeartbeat: number;
  /** Late results (finished after the pause began) the server accepted: must be 0. */
  accepted: string[];
}

export function pausedReport(agent: AgentProcess, pause: PauseRecord): PausedReport {
  const held = new Set(pause.heldRuns.map((run) => run.runId));
  const report: PausedReport = {
    held: held.size,
    inFlight: 0,
    refused409: 0,
    droppedAtHeartbeat: 0,
    accepted: [],
  };
  const sentBeforePause = new Set<string>();
  for (const event of agent.events) {
    const runId = event.run_id as string;
    if (!held.has(runId)) continue;
    const time = Date.parse(event.time as string);
    if (event.event === 'finished' && time < pause.pausedAt) sentBeforePause.add(runId);
    if (time < pause.pausedAt || !['submitted', 'dropped'].includes(event.event)) continue;
    if (sentBeforePause.has(runId)) report.inFlight++;
    else if (event.event === 'submitted') report.accepted.push(runId);
    else if (event.result_status === 409) report.refused409++;
    else report.droppedAtHeartbeat++;
  }
  return report;
}

/** Every task of the account as `GET /api/v1/tasks` pages list it: task id → status. */
export async function tasksThroughApi(base: string, apiKey: string): Promise<Map<string, string>> {
  const statuses = new Map<string, string>();
  let cursor: string | null = null;
  do {
    const url = `${base}/api/v1/tasks?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await fetch(url, { headers: { 'x-api-key': apiKey } });
    if (!res.ok) throw new Error(`GET /tasks: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as {
      items: { task_id: string; status: string }[];
      next_cursor: string | null;
    };
    for (const item of page.items) statuses.set(item.task_id, item.status);
    cursor = page.next_cursor;
  } while (cursor);
  return statuses;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
