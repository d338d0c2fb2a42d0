import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';
import { WakeUpTransport } from '../wake-ups/wake-up-transport';

/**
 * "Work may be available" hint: published after a commit that makes a run claimable, heard by the claim
 * long polls of this replica at once and by the other replicas through the wake-up transport (LISTEN/NOTIFY
 * or Redis pub/sub). A hint only: claimers also poll at least once a second, so a lost or early signal
 * delays a claim but never loses work.
 */
@Injectable()
export class WorkSignal {
  private readonly emitter = new EventEmitter();

  constructor(private readonly transport: WakeUpTransport) {
    // One listener per waiting long poll; their number is bounded by the HTTP layer, not by this class.
    this.emitter.setMaxListeners(0);
    transport.subscribe(() => this.emitter.emit('work'));
  }

  notify(): void {
    this.emitter.emit('work');
    this.transport.publish();
  }

  /** Calls `listener` on the next signals until the returned function is called. */
  subscribe(listener: () => void): () => void {
    this.emitter.on('work', listener);
    return () => this.emitter.off('work', listener);
  }
}
