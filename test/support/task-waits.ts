import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { eventually } from './eventually';
import type { Headers } from './nodes';
import { getTask, TaskInfo } from './tasks';

const FINAL = ['completed', 'failed', 'cancelled'];

/** Polls a task until it reaches a final state (completed, failed, cancelled) and returns it. */
export function finalTask(
  app: NestFastifyApplication,
  taskId: string,
  headers: Headers,
  timeoutMs = 60_000,
): Promise<TaskInfo> {
  return eventually(
    async () => {
      const task = await getTask(app, taskId, headers);
      if (!FINAL.includes(task.status)) throw new Error(`task ${taskId} is still ${task.status}`);
      return task;
    },
    { timeoutMs, intervalMs: 50 },
  );
}
