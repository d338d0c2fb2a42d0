import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';

/**
 * In-process "work may be available" hint: published after a commit that makes a run claimable, heard by the
 * claim long polls of this replica. A hint only: claimers also poll at least once a second, so a lost or
 * early signal (or another replica's submission) delays a claim but never loses work.
 */
@Injectable()
export class WorkSignal {
  private readonly emitter = new EventEmitter();

  constructor() {
    // One listener per waiting long poll; their number is bounded by the HTTP layer, not by this class.
    this.emitter.setMaxListeners(0);
  }

  notify(): void {
    this.emitter.emit('work');
  }

  /** Calls `listener` on the next signals until the returned function is called. */
  subscribe(listener: () => void): () => void {
    this.emitter.on('work', listener);
    return () => this.emitter.off('work', listener);
  }
}
