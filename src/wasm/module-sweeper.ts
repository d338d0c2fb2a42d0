import { Injectable } from '@nestjs/common';
import { IntervalSweep } from '../common/concurrency/interval-sweep';
import { ModuleOwnersRepository } from './module-owners.repository';
import { ModuleOwnershipService } from './module-ownership.service';
import { ModuleStoreService } from './module-store.service';

/**
 * Rows younger than this are left alone: an upload stores its row, then records its owner in a second
 * transaction, so a fresh row nobody holds yet may be another replica's upload in flight. (Even then a collect
 * is safe — the upload inserts the row again and stores the bytes again after its commit — but it need not
 * race one.) No upload lasts an hour.
 */
export const UNHELD_GRACE_SECS = 60 * 60;
const INTERVAL_MS = 60 * 60 * 1000;
/** The first sweep after boot: soon, but not in the way of start-up. */
const FIRST_SWEEP_MS = 60 * 1000;
/** Modules per sweep, each collected in its own short transaction; a backlog goes over the next sweeps. */
const BATCH = 100;

/**
 * Collects modules nobody holds that a delete left behind: deleting a task (or a refused upload) commits, then
 * collects its module in a transaction of its own, and a process that ended in between left the row and its
 * bytes stored, charged to nobody, for good. Every replica sweeps (no leader): each module is collected by
 * `collect`, which locks its row and checks again that nothing holds it, so replicas sweeping at once delete
 * it once, and an upload or task that takes it meanwhile keeps it.
 */
@Injectable()
export class ModuleSweeper extends IntervalSweep {
  constructor(
    private readonly owners: ModuleOwnersRepository,
    private readonly ownership: ModuleOwnershipService,
    private readonly store: ModuleStoreService,
  ) {
    super('ModuleSweeper');
  }

  protected get intervalMs(): number {
    return INTERVAL_MS;
  }

  override onApplicationBootstrap(): void {
    super.onApplicationBootstrap();
    this.sweepWithin(FIRST_SWEEP_MS);
  }

  /** How many modules it deleted, and how many stored objects no module named. */
  async sweep(now = Date.now()): Promise<{ modules: number; unnamedBytes: number }> {
    let collected = 0;
    for (const moduleId of await this.owners.unheld(UNHELD_GRACE_SECS, BATCH)) {
      if (await this.ownership.collect(moduleId)) collected++;
    }
    if (collected > 0) this.logger.warn(`collected ${collected} stored module(s) that nobody held`);
    const unnamed = await this.store.collectUnnamedBytes(now);
    if (unnamed > 0) this.logger.warn(`removed ${unnamed} stored module file(s) that no module row named`);
    return { modules: collected, unnamedBytes: unnamed };
  }
}
