import { availableParallelism } from 'node:os';
import { defineFeatureConfig } from '../common/config/feature-config';
import { ChoiceVariable, IntVariable } from '../common/config/variables';

export const EMBEDDED_NODE_MODES = ['auto', 'on', 'off'] as const;
export type EmbeddedNodeMode = (typeof EMBEDDED_NODE_MODES)[number];

export class EmbeddedNodeVariables {
  @ChoiceVariable(EMBEDDED_NODE_MODES)
  EMBEDDED_NODE?: EmbeddedNodeMode;

  @IntVariable(1, 256)
  EMBEDDED_NODE_CONCURRENCY?: number;

  @IntVariable(1, 16)
  EMBEDDED_NODES?: number;
}

/** The node agent run inside the server (issue 17), so that `npm start` alone completes tasks. */
export class EmbeddedNodeConfig {
  /** Whether the server starts embedded nodes at all. */
  readonly enabled!: boolean;
  /** Slots of each embedded node as set, or null: cores − 1, within what the server leases to one node. */
  readonly concurrency!: number | null;
  /** How many embedded nodes, each with its own key pair and owner (a demo setting: quorum on one machine). */
  readonly nodes!: number;
  /** The database is the embedded one (no DATABASE_URL), which one server process at a time opens. */
  readonly embeddedDatabase!: boolean;
  /** Set when EMBEDDED_NODES or EMBEDDED_NODE_CONCURRENCY is given but no embedded node runs: why, for a warning. */
  readonly ignored!: string | null;

  constructor(values: EmbeddedNodeConfig) {
    Object.assign(this, values);
    Object.freeze(this);
  }
}

/**
 * Slots of each embedded node: EMBEDDED_NODE_CONCURRENCY, else a slot per core but one (the server's own), never
 * more than the server leases to one node (NODE_MAX_CONCURRENT_RUNS).
 */
export function embeddedNodeSlots(config: EmbeddedNodeConfig, maxConcurrentRuns: number): number {
  return config.concurrency ?? Math.min(Math.max(1, availableParallelism() - 1), maxConcurrentRuns);
}

export const embeddedNodeConfig = defineFeatureConfig({
  token: EmbeddedNodeConfig,
  schema: EmbeddedNodeVariables,
  build: (env, { core, raw }) => {
    const mode = env.EMBEDDED_NODE ?? 'auto';
    // auto: the default setup only (embedded database, not production); a real deployment runs real nodes.
    const enabled = mode === 'on' || (mode === 'auto' && !raw.DATABASE_URL && !core.isProduction);
    const given = (['EMBEDDED_NODES', 'EMBEDDED_NODE_CONCURRENCY'] as const).filter(
      (name) => env[name] !== undefined,
    );
    const because =
      mode === 'off'
        ? 'EMBEDDED_NODE=off'
        : `EMBEDDED_NODE=auto runs none ${raw.DATABASE_URL ? 'with DATABASE_URL set' : 'in production'} (EMBEDDED_NODE=on would)`;
    return new EmbeddedNodeConfig({
      enabled,
      concurrency: env.EMBEDDED_NODE_CONCURRENCY ?? null,
      nodes: env.EMBEDDED_NODES ?? 1,
      embeddedDatabase: !raw.DATABASE_URL,
      ignored:
        enabled || given.length === 0
          ? null
          : `${given.join(' and ')} ignored: no embedded node runs, as ${because}`,
    });
  },
});
