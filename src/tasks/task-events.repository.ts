import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import type { TaskStatus } from '../common/tasks/task-kinds';

export interface TaskEvent {
  /** Decimal string of the event's bigint id. */
  id: string;
  type: 'status' | 'run';
  data: Record<string, unknown>;
}

export interface TaskEventsPage {
  /** null: the task no longer exists (or never did). */
  taskStatus: TaskStatus | null;
  events: TaskEvent[];
}

/** task_events (written by the triggers of migration TaskEvents): a task's events after an id, in id order. */
@Injectable()
export class TaskEventsRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * The task's status and up to `limit` events after `afterId`, in one statement. The status is read in the
   * same snapshot as the events, so a terminal status means its event is among those read (or earlier ones).
   */
  async after(taskId: string, afterId: string, limit: number): Promise<TaskEventsPage> {
    const rows = await this.db.query<{
      status: TaskStatus;
      event_id: string | null;
      event_type: 'status' | 'run' | null;
      data: Record<string, unknown> | null;
    }>(
      `SELECT t.status, e.event_id::text AS event_id, e.event_type, e.data
         FROM tasks t
         LEFT JOIN LATERAL (
           SELECT event_id, event_type, data FROM task_events
            WHERE task_id = t.task_id AND event_id > $2::bigint
            ORDER BY event_id LIMIT $3) e ON true
        WHERE t.task_id = $1
        ORDER BY e.event_id`,
      [taskId, afterId, limit],
    );
    if (rows.length === 0) return { taskStatus: null, events: [] };
    return {
      taskStatus: rows[0].status,
      events: rows
        .filter((row) => row.event_id !== null)
        .map((row) => ({ id: row.event_id!, type: row.event_type!, data: row.data! })),
    };
  }

  /** Whether `eventId` is one of the task's events (a client resuming sends the last one it saw). */
  async isEventOf(taskId: string, eventId: string): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT 1 FROM task_events WHERE event_id = $2::bigint AND task_id = $1`,
      [taskId, eventId],
    );
    return rows.length > 0;
  }
}
