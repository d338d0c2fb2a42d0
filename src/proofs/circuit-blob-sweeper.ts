import { Injectable } from '@nestjs/common';
import { IntervalSweep } from '../common/concurrency/interval-sweep';
import { TransactionRunner } from '../database/transaction-runner';
import { ContentStore } from '../storage/content-store';
import { BytesNames, collectUnnamedBytes } from '../storage/unnamed-bytes';
import { CircuitRepository } from './circuit.repository';

const INTERVAL_MS = 60 * 60 * 1000;
/** The first sweep after boot: soon, but not in the way of start-up. */
const FIRST_SWEEP_MS = 60 * 1000;

/**
 * Removes circuit files (wasm, zkey) no circuit row names, over an hour old: a registration stores its files
 * before its transaction, so a crash in between left them for good. A retired circuit keeps its row, so its
 * files stay named. Every replica sweeps (no leader): each file is checked again and deleted under the lock
 * every registration and deletion takes (`lockArtifacts`), and a registration that stored the same bytes
 * meanwhile finds them gone under that lock and stores them again (CircuitRegistryService.restore).
 */
@Injectable()
export class CircuitBlobSweeper extends IntervalSweep {
  private readonly names: BytesNames;

  constructor(
    private readonly blobs: ContentStore,
    circuits: CircuitRepository,
    private readonly tx: TransactionRunner,
  ) {
    super('CircuitBlobSweeper');
    this.names = {
      lockBytes: () => circuits.lockArtifacts(),
      unnamed: (ids) => circuits.unnamedArtifacts(ids),
    };
  }

  protected get intervalMs(): number {
    return INTERVAL_MS;
  }

  override onApplicationBootstrap(): void {
    super.onApplicationBootstrap();
    this.sweepWithin(FIRST_SWEEP_MS);
  }

  /** How many stored files no circuit named it removed. */
  async sweep(now = Date.now()): Promise<number> {
    const removed = await collectUnnamedBytes(this.blobs, this.names, this.tx, now);
    if (removed > 0) this.logger.warn(`removed ${removed} stored circuit file(s) that no circuit named`);
    return removed;
  }
}
