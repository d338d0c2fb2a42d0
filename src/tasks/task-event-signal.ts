import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';

/**
 * "A task may have new events": published after a commit that changed a task or one of its runs, heard by the
 * event streams of that task. A hint only, like WorkSignal: streams re-read the task_events table at least once
 * a second, so a lost signal or a change on another replica delays an event but never loses it. This class is
 * the in-process transport; a cross-replica one (LISTEN/NOTIFY, Redis pub/sub) can stand in for it under the
 * same token.
 */
@Injectable()
export class TaskEventSignal {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per open stream; their number is bounded by TASK_EVENTS_MAX_STREAMS.
    this.emitter.setMaxListeners(0);
  }

  publish(...taskIds: string[]): void {
    for (const taskId of new Set(taskIds)) this.emitter.emit(taskId);
  }

  /** Calls `listener` on the task's next signals until the returned function is called. */
  subscribe(taskId: string, listener: () => void): () => void {
    this.emitter.on(taskId, listener);
    return () => this.emitter.off(taskId, listener);
  }
}
