import type { AgentSetup } from './agent-setup';
import { answerSlackMs } from './answer-timing';
import type { ClaimSize } from './claim-size';
import type { Execution } from './executors';
import type { Held } from './leased-run';
import type { Counters } from './reporter';
import { resultBodyOf } from './result-body';
import { LEASE_LOST, noteDropped, noteSubmitted, round2 } from './run-events';
import type { ServerAnswers } from './server-answers';
import { isAnswerTooLarge, LeasedRun, SubmitAnswer, TransportError } from './transport';

/** What sending a result needs of the agent. */
export interface ResultSending {
  setup: Pick<AgentSetup, 'transport' | 'reporter' | 'keys'>;
  counters: Counters;
  answers: ServerAnswers;
  claimSize: ClaimSize;
  /** Aborted when a stop gives up the results still unanswered. */
  signal: AbortSignal;
  /** The lease the runs get, as the last one leased told. */
  leaseMs(): number;
  now(): number;
  stopped(): boolean;
  /** Says the failure and waits before the next try (woken by a stop). */
  afterFailure(error: unknown, failures: number): Promise<void>;
  /** Stops the run for good (see Agent.drop). */
  drop(held: Held, reason: string): void;
  /** The server answered a result without `next`: it predates Claim-Next. */
  noClaimNext(): void;
}

/**
 * Submits a run's result, retrying network errors; the runs its Claim-Next leased, if any. After a heartbeat
 * called the run lost while its result was being sent (held.lostAt), retries go on for a lease at most: the
 * result may have been accepted with its answer lost, and only its retry tells.
 */
export async function sendResult(
  ctx: ResultSending,
  held: Held,
  execution: Execution,
  started: number,
  claimNext: number | undefined,
): Promise<LeasedRun[] | undefined> {
  const { run } = held;
  const dropped = (reason = held.dropped ?? 'dropped', extra: { result_status?: number } = {}) => {
    noteDropped(ctx.counters, ctx.setup.reporter, run, reason, extra);
    return undefined;
  };
  if (held.dropped !== null) return dropped();
  ctx.setup.reporter.emit({
    event: 'finished',
    task_id: run.task_id,
    run_id: run.run_id,
    outcome: execution.outcome,
    execution_time_ms: execution.executionTimeMs,
  });
  const body = resultBodyOf(run, execution, ctx.setup.keys.privateKey);
  // What the agent adds to the engine's run (module fetch or cache, hashing, signing), for bench:tasks.
  const overheadMs =
    execution.engineMs === undefined ? undefined : round2(performance.now() - started - execution.engineMs);
  let claimsNext = claimNext;
  for (let failures = 0; ; failures++) {
    if (held.dropped !== null) return dropped();
    let answer: SubmitAnswer;
    try {
      // A result that carries a claim is given up as a claim is (answerSlackMs), else its runs would expire.
      const timeoutMs = claimsNext === undefined ? undefined : answerSlackMs(ctx.leaseMs());
      answer = await ctx.setup.transport.submit(run.run_id, body, claimsNext, ctx.signal, timeoutMs);
    } catch (error) {
      // Given up by a stop (see Agent.shutdown), which hands the run back.
      if (ctx.signal.aborted) return dropped();
      if (claimsNext !== undefined && isAnswerTooLarge(error)) {
        // The result again at once, without a claim: the runs that one leased expire unseen.
        ctx.claimSize.tooLarge(error, 'submit', claimsNext, 0);
        claimsNext = undefined;
        continue;
      }
      if (error instanceof TransportError && error.retryable && !ctx.stopped()) {
        if (held.lostAt !== null && ctx.now() - held.lostAt > ctx.leaseMs()) {
          ctx.drop(held, LEASE_LOST);
          return dropped();
        }
        await ctx.afterFailure(error, failures);
        if (ctx.signal.aborted) return dropped();
        continue;
      }
      ctx.counters.refused++;
      ctx.answers.resultRefused(error);
      ctx.setup.reporter.emit({
        event: 'refused',
        task_id: run.task_id,
        run_id: run.run_id,
        message: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
    ctx.answers.answered();
    // Another node has the run now (or the task was cancelled): nothing to do, nothing to shout about.
    if (!answer.accepted) return dropped(LEASE_LOST, { result_status: 409 });
    if (claimsNext !== undefined && answer.next === undefined) ctx.noClaimNext();
    noteSubmitted(ctx.counters, ctx.setup.reporter, { run, execution, answer, overheadMs });
    return answer.next;
  }
}
