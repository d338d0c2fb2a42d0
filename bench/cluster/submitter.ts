/**
 * Submits tasks through the API as a careful client does: each with an Idempotency-Key, retried with the same
 * key on a network error, a 5xx or a 429 until it is answered, so a task is never lost and never doubled
 * however the replicas and the database fail in between.
 */
export interface Submission {
  key: string;
  body: unknown;
}

export interface SubmitOptions {
  base: string;
  apiKey: string;
  concurrency: number;
  /** Submissions started per second at most (spreads the load over a fault window); 0 = as fast as possible. */
  ratePerSec: number;
  /** Stop retrying a submission after this long (ms). */
  giveUpMs: number;
  /** Told of each task as soon as its submission is answered. */
  onAccepted?: (key: string, taskId: string) => void;
}

export interface SubmitReport {
  taskIds: Map<string, string>;
  retries: number;
  /** Answers other than 201/200 that were not retried (bad requests: a bug in the caller). */
  refused: string[];
}

export async function submitAll(submissions: Submission[], options: SubmitOptions): Promise<SubmitReport> {
  const report: SubmitReport = { taskIds: new Map(), retries: 0, refused: [] };
  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < submissions.length) {
      const index = next++;
      if (options.ratePerSec > 0) {
        const due = started + (index / options.ratePerSec) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      await submitOne(submissions[index], options, report);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return report;
}

async function submitOne(
  submission: Submission,
  options: SubmitOptions,
  report: SubmitReport,
): Promise<void> {
  const deadline = Date.now() + options.giveUpMs;
  for (let attempt = 0; ; attempt++) {
    let status = 0;
    let text = '';
    try {
      const res = await fetch(`${options.base}/api/v1/tasks`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': options.apiKey,
          'idempotency-key': submission.key,
        },
        body: JSON.stringify(submission.body),
        signal: AbortSignal.timeout(30_000),
      });
      status = res.status;
      text = await res.text();
    } catch (error) {
      text = String(error);
    }
    if (status === 201 || status === 200) {
      const taskId = (JSON.parse(text) as { task_id: string }).task_id;
      report.taskIds.set(submission.key, taskId);
      options.onAccepted?.(submission.key, taskId);
      return;
    }
    if (status !== 0 && status < 500 && status !== 429) {
      report.refused.push(`${submission.key}: ${status} ${text.slice(0, 200)}`);
      return;
    }
    if (Date.now() > deadline) {
      report.refused.push(
        `${submission.key}: gave up after ${attempt + 1} attempts (${status} ${text.slice(0, 200)})`,
      );
      return;
    }
    report.retries++;
    await sleep(Math.min(2000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
