import type { NodeKeyPair } from '../common/receipts/receipt';
import type { ContentCache } from './content-cache';
import type { WasmEngine } from './executors';
import type { Sleeps } from './pacing';
import type { Reporter } from './reporter';
import type { AgentTransport, HeartbeatBody } from './transport';

/** What an Agent runs with: the CLI's HTTP transport or the embedded node's direct one, and the rest. */
export interface AgentSetup {
  nodeId: string;
  concurrency: number;
  keys: NodeKeyPair;
  transport: AgentTransport;
  engine: WasmEngine;
  cache: ContentCache;
  reporter: Reporter;
  version: string;
  /** Machine telemetry sent with each heartbeat (the embedded node and the CLI measure the same things). */
  telemetry?: () => Pick<HeartbeatBody, 'cpu_usage' | 'memory_usage'>;
  /** How long one claim waits for work on the server (long poll); default 20 s or a third of the lease if shorter. */
  claimWaitMs?: number;
  random?: () => number;
  /** The agent's waits (backoff, heartbeat gaps); tests observe them. */
  sleeps?: Sleeps;
  /** Milliseconds from a monotonic clock (slots' busy share, how long the server is away); tests set it. */
  clock?: () => number;
}
