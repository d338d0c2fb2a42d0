import { Injectable } from '@nestjs/common';

export type NodeLossCause = 'node_deleted' | 'node_rejected' | 'node_offline';

/**
 * Gives back the runs leased to nodes that were just lost, inside the caller's transaction; resolves to what
 * must happen once that transaction has committed (wake-ups for claimers and event streams).
 */
export type LostNodeRunsReleaser = (nodeIds: string[], cause: NodeLossCause) => Promise<() => void>;

/**
 * Deleting, rejecting or losing (liveness sweep) a node releases its leased runs at once instead of letting
 * their leases run out. The scheduling module, which owns runs, registers the releaser (nodes cannot import
 * it: scheduling depends on nodes).
 */
@Injectable()
export class NodeLoss {
  private releaser: LostNodeRunsReleaser | undefined;

  useReleaser(releaser: LostNodeRunsReleaser): void {
    this.releaser = releaser;
  }

  /** Call inside the transaction that loses the nodes; call the result after it commits. */
  async release(nodeIds: string[], cause: NodeLossCause): Promise<() => void> {
    if (!this.releaser || nodeIds.length === 0) return () => undefined;
    return this.releaser(nodeIds, cause);
  }
}
