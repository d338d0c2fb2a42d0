import { Injectable } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import type { NewAuditRecord } from '../audit/audit-log.repository';
import { DatabaseSession } from '../database/transaction-runner';
import { TaskInsert, TaskInsertsRepository } from './task-inserts.repository';
import type { NewTask, TaskRecord } from './tasks.repository';

/** Rows per statement: large enough to carry a burst, small enough to keep one statement short. */
export const MAX_TASKS_PER_INSERT = 64;

interface Waiting extends TaskInsert {
  resolve: (record: TaskRecord) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for submissions. Submissions that reach the database within one event-loop turn (a script
 * submitting in parallel, several clients at once) are written by one statement when the turn ends, instead of
 * one statement and one commit each: on the embedded database every statement is ~1 ms of the server's only
 * thread, and on PostgreSQL each is a round trip and a WAL flush. A lone submission waits for nothing but the
 * end of its turn and is written as before. If the batch's statement fails, each of its submissions is written
 * on its own, so a row the database refuses fails its own request only.
 *
 * Inside a transaction (a submission with an Idempotency-Key claims its key in the same one) the insert is
 * written at once on the transaction's connection: a batch runs on a connection of its own, outside it.
 */
@Injectable()
export class TaskInsertBatcher {
  private waiting: Waiting[] = [];

  constructor(
    private readonly inserts: TaskInsertsRepository,
    private readonly session: DatabaseSession,
  ) {}

  insert(task: NewTask, audit: NewAuditRecord): Promise<TaskRecord> {
    if (this.session.inTransaction) return this.inserts.insert(task, audit);
    return new Promise<TaskRecord>((resolve, reject) => {
      if (this.waiting.push({ task, audit, resolve, reject }) === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (let start = 0; start < waiting.length; start += MAX_TASKS_PER_INSERT) {
      void this.write(waiting.slice(start, start + MAX_TASKS_PER_INSERT));
    }
  }

  private async write(batch: Waiting[]): Promise<void> {
    if (batch.length > 1) {
      let records: TaskRecord[];
      try {
        records = await this.inserts.insertMany(batch);
      } catch (error) {
        // Only a statement the database refused wrote nothing and may be retried row by row; anything else
        // (a bug after the commit) must not write the batch a second time.
        if (!(error instanceof QueryFailedError)) return batch.forEach((item) => item.reject(error));
        return this.writeEach(batch);
      }
      return batch.forEach((item, i) => item.resolve(records[i]));
    }
    return this.writeEach(batch);
  }

  /** One statement per submission, each with its own answer: one refused row fails only its own request. */
  private async writeEach(batch: Waiting[]): Promise<void> {
    await Promise.all(
      batch.map((item) => this.inserts.insert(item.task, item.audit).then(item.resolve, item.reject)),
    );
  }
}
