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

/** What the embedded nodes are sized against: the server's lease cap per node and its WASM engine. */
export interface EmbeddedNodeLimits {
  /** NODE_MAX_CONCURRENT_RUNS: the most runs the server leases to one node. */
  maxConcurrentRuns: number;
  /** WASM_MAX_CONCURRENCY: runs the in-process engine executes at once, which every embedded node shares. */
  engineSlots: number;
  /** The machine's cores (for the default). */
  cores?: number;
}

/** How many embedded nodes start and the slots of each; a warning when a setting was cut down to fit. */
export interface EmbeddedNodeSizing {
  slots: number[];
  warning: string | null;
}

/**
 * Slots of each embedded node: EMBEDDED_NODE_CONCURRENCY, else a slot per core but one (the server's own),
 * never more than the server leases to one node (NODE_MAX_CONCURRENT_RUNS) — and all of them together never more
 * than the engine runs at once (WASM_MAX_CONCURRENCY). A claimed run's deadline counts from its claim (see
 * lease-deadline.ts), so a run leased to a node that then waits for an engine slot behind its siblings could
 * use up its deadline waiting; leasing no more than the engine runs keeps that wait off. Shared out evenly,
 * the first nodes taking what does not divide. Every node asked for starts, with one slot at least: EMBEDDED_NODES
 * is how quorum is tried on one machine, and a demo short of a node would wait for ever, not slowly.
 */
export function embeddedNodeSlots(
  config: EmbeddedNodeConfig,
  limits: EmbeddedNodeLimits,
): EmbeddedNodeSizing {
  const { maxConcurrentRuns, engineSlots } = limits;
  const cores = limits.cores ?? availableParallelism();
  const wanted = Math.min(config.concurrency ?? Math.max(1, cores - 1), maxConcurrentRuns);
  const nodes = config.nodes;
  const total = Math.max(nodes, Math.min(nodes * wanted, engineSlots));
  const slots = Array.from(
    { length: nodes },
    (_, i) => Math.floor(total / nodes) + (i < total % nodes ? 1 : 0),
  );
  let warning: string | null = null;
  if (nodes > engineSlots) {
    warning =
      `EMBEDDED_NODES=${nodes} is more than the WASM engine’s ${engineSlots} slot(s) (WASM_MAX_CONCURRENCY): ` +
      `each node has one slot, and a run leased to one may wait for the engine; raise WASM_MAX_CONCURRENCY to ${nodes}`;
  } else if (config.concurrency !== null && slots.some((n) => n < config.concurrency!)) {
    const why =
      config.concurrency > maxConcurrentRuns && slots.every((n) => n === maxConcurrentRuns)
        ? `the server leases at most ${maxConcurrentRuns} run(s) to one node (NODE_MAX_CONCURRENT_RUNS)`
        : `the embedded nodes share the WASM engine’s ${engineSlots} slot(s) (WASM_MAX_CONCURRENCY), ` +
          'and a leased run must not wait for one';
    warning = `EMBEDDED_NODE_CONCURRENCY limited to ${slots.join('+')} slot(s): ${why}`;
  }
  return { slots, warning };
}

export const embeddedNodeConfig = defineFeatureConfig({
  token: EmbeddedNodeConfig,
  schema: EmbeddedNodeVariables,
  build: (env, { core, raw }) => {
    const mode = env.EMBEDDED_NODE ?? 'auto';
    // Blank is unset, as the database config reads it: a blank DATABASE_URL is the embedded database.
    const embeddedDatabase = !raw.DATABASE_URL?.trim();
    // auto: the default setup only (embedded database, not production); a real deployment runs real nodes.
    const enabled = mode === 'on' || (mode === 'auto' && embeddedDatabase && !core.isProduction);
    const given = (['EMBEDDED_NODES', 'EMBEDDED_NODE_CONCURRENCY'] as const).filter(
      (name) => env[name] !== undefined,
    );
    const because =
      mode === 'off'
        ? 'EMBEDDED_NODE=off'
        : `EMBEDDED_NODE=auto runs none ${embeddedDatabase ? 'in production' : 'with DATABASE_URL set'} (EMBEDDED_NODE=on would)`;
    return new EmbeddedNodeConfig({
      enabled,
      concurrency: env.EMBEDDED_NODE_CONCURRENCY ?? null,
      nodes: env.EMBEDDED_NODES ?? 1,
      embeddedDatabase,
      ignored:
        enabled || given.length === 0
          ? null
          : `${given.join(' and ')} ignored: no embedded node runs, as ${because}`,
    });
  },
});
