import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, QueryFailedError, QueryRunner } from 'typeorm';
import { isRetryableConflict } from '../common/errors/transient-database-error';
import { EmbeddedDataSource } from './data-source.factory';

const MAX_ATTEMPTS = 3;

/**
 * The transaction that the current async call chain runs in. AsyncLocalStorage follows awaits, callbacks and
 * timers started inside `TransactionRunner.run`, so every repository call made there lands on the
 * transaction's connection without anyone passing it along. `open` turns false when the work settles: a
 * callback the work started without awaiting, running after the commit, then queries on a pooled connection
 * instead of the released one.
 */
interface TransactionContext {
  readonly runner: QueryRunner;
  open: boolean;
}

const currentTransaction = new AsyncLocalStorage<TransactionContext>();
let openTransactions = 0;

function transactionRunner(): QueryRunner | undefined {
  const context = currentTransaction.getStore();
  return context?.open ? context.runner : undefined;
}

export interface StatementResult<Row> {
  rows: Row[];
  /** Rows changed by an INSERT, UPDATE or DELETE. */
  affected: number;
}

/**
 * How repositories reach the database: inside `TransactionRunner.run` on the transaction's connection,
 * otherwise on a pooled one. It is the only way repositories query, so the embedded database's rule (one
 * session: inside a transaction, only the transaction's connection) cannot be broken by forgetting a
 * parameter — a query on another connection would wait for the transaction to end, which is waiting for it.
 */
@Injectable()
export class DatabaseSession {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * True on the embedded database: one session, so statements never interleave and each runs alone from
   * start to end (what an advisory lock buys on PostgreSQL, it has by construction).
   */
  get singleSession(): boolean {
    return this.dataSource instanceof EmbeddedDataSource;
  }

  get inTransaction(): boolean {
    return transactionRunner() !== undefined;
  }

  /** The rows of a statement (a write returns rows only with RETURNING). */
  async query<Row>(sql: string, parameters: unknown[] = []): Promise<Row[]> {
    return (await this.execute<Row>(sql, parameters)).rows;
  }

  /** Rows and affected count; TypeORM's plain `query` shapes UPDATE and DELETE results differently. */
  async execute<Row = never>(sql: string, parameters: unknown[] = []): Promise<StatementResult<Row>> {
    const transaction = transactionRunner();
    const runner = transaction ?? this.dataSource.createQueryRunner();
    try {
      return statementResult<Row>(await runner.query(sql, parameters, true));
    } catch (error) {
      await closeIfUnanswered(runner, error);
      throw error;
    } finally {
      if (!transaction) await runner.release();
    }
  }

  /**
   * A statement prepared once per connection under `name`, then executed by name. For the scheduler's hot,
   * many-join statements: an unnamed statement is planned on every execution, and planning the claim's five
   * CTEs took ~6 ms on PGlite where executing it prepared took ~0.5 ms (bench/README.md, scheduling). One
   * name per SQL text; not for use behind a transaction-pooling PgBouncer (prepared statements live on the
   * server connection). Failures are TypeORM's QueryFailedError, as from `query`.
   */
  async queryPrepared<Row>(name: string, sql: string, parameters: unknown[] = []): Promise<Row[]> {
    const transaction = transactionRunner();
    const runner = transaction ?? this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PreparedClient<Row>;
      try {
        return (await client.query({ name, text: sql, values: parameters })).rows;
      } catch (error) {
        await closeIfUnanswered(runner, error);
        throw new QueryFailedError(sql, parameters, error as Error);
      }
    } finally {
      if (!transaction) await runner.release();
    }
  }

  /** Readiness: the database answers a trivial query. */
  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }
}

/** pg's error for a statement that got no answer within `query_timeout` (DB_QUERY_TIMEOUT_SECS). */
export function isUnansweredQuery(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 3; depth++) {
    if ((current as { message?: unknown }).message === 'Query read timeout') return true;
    current = (current as { driverError?: unknown }).driverError;
  }
  return false;
}

/**
 * A statement PostgreSQL never answered is still outstanding on its connection, and everything sent there
 * later would queue behind it: the connection is closed (end() destroys the socket of a client with a query
 * in flight, and marks it ending, so the pool drops it instead of handing it out again).
 */
async function closeIfUnanswered(runner: QueryRunner, error: unknown): Promise<void> {
  if (!isUnansweredQuery(error)) return;
  const client = (await runner.connect()) as { end?: () => Promise<void> };
  void client.end?.().catch(() => undefined);
}

/** The pg client under a TypeORM query runner (PostgreSQL and the PGlite adapter alike). */
interface PreparedClient<Row> {
  query(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: Row[] }>;
}

function statementResult<Row>(result: { records?: Row[]; affected?: number }): StatementResult<Row> {
  return { rows: result.records ?? [], affected: result.affected ?? 0 };
}

/**
 * Runs work in one database transaction: it commits when the work resolves and rolls back when it throws.
 * A `run` inside another joins the outer transaction (no savepoint): the whole unit commits or rolls back
 * together, and the inner call never holds a second connection.
 */
@Injectable()
export class TransactionRunner {
  /** Runs of one transaction at most (1: no retry, as the deadlock test's negative control sets it). */
  maxAttempts = MAX_ATTEMPTS;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * A deadlock or serialization failure rolls the whole transaction back; it is run again (up to three times in
   * all, after a short jittered pause), so `work` must keep its effects in the database (or set, not add to,
   * outside state). Two transactions that lock the same rows in opposite orders are otherwise a 500.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (transactionRunner()) return work();
    openTransactions++;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.transaction(work);
        } catch (error) {
          if (attempt >= this.maxAttempts || !isRetryableConflict(error)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
        }
      }
    } finally {
      // Before Node 24, an enabled AsyncLocalStorage runs async hooks on every promise, tick and socket write
      // in the process (~5 µs of a health request's ~48 on Node 20, bench/README.md); off between
      // transactions, the next run() enables it again.
      if (--openTransactions === 0) currentTransaction.disable();
    }
  }

  /**
   * DataSource.transaction's own steps, except that a BEGIN, statement or COMMIT PostgreSQL never answered
   * closes the connection (closeIfUnanswered) instead of queueing a ROLLBACK behind it for another timeout.
   */
  private async transaction<T>(work: () => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.startTransaction();
      const result = await inContext(runner, work);
      await runner.commitTransaction();
      return result;
    } catch (error) {
      await closeIfUnanswered(runner, error);
      if (!isUnansweredQuery(error) && runner.isTransactionActive)
        await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }
}

function inContext<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  const context: TransactionContext = { runner, open: true };
  return currentTransaction.run(context, async () => {
    try {
      return await work();
    } finally {
      context.open = false;
    }
  });
}
