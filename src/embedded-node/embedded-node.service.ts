import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { join } from 'node:path';
import { Agent } from '../agent/agent';
import { ContentCache } from '../agent/content-cache';
import { loadOrCreateKeyPair } from '../agent/identity';
import { measureCapabilities, telemetry } from '../agent/machine';
import type { AgentEvent, Reporter } from '../agent/reporter';
import type { Principal } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { CoreConfig } from '../common/config/core.config';
import { ConnectionDraining } from '../common/http/connection-draining';
import { EMBEDDED_NODE_ID_PREFIX, SYSTEM_ACCOUNT_PREFIX } from '../common/validation/reserved-names';
import { TransactionRunner } from '../database/transaction-runner';
import { HeartbeatService } from '../nodes/heartbeat.service';
import { NEUTRAL_SCORE } from '../nodes/health-score';
import { NodesRepository } from '../nodes/nodes.repository';
import { CircuitRegistryService } from '../proofs/circuit-registry.service';
import { ClaimService } from '../scheduling/claim.service';
import { RunRelease } from '../scheduling/run-release';
import { RunResultService } from '../scheduling/run-result.service';
import { SchedulingConfig } from '../scheduling/scheduling.config';
import { SYSTEM_ACCOUNT_PASSWORD_HASH, isSystemAccount, UsersRepository } from '../users/users.repository';
import { ModuleStoreService } from '../wasm/module-store.service';
import { WasmConfig } from '../wasm/wasm.config';
import { WasmService } from '../wasm/wasm.service';
import { DirectTransport } from './direct-transport';
import { EmbeddedNodeConfig, embeddedNodeSlots } from './embedded-node.config';

/**
 * Embedded runs get this long to finish at shutdown, and at most half the time to the shutdown cutoff: the
 * cutoff stops the engine's runs, and a run stopped under the node would be reported as failed (costing its
 * task an attempt). The rest are stopped and handed back (POST /runs/:run_id/release's service): their tasks
 * are queued again at once, their attempts not spent.
 */
const SHUTDOWN_GRACE_MS = 5000;
/** Verified module and circuit bytes each embedded node keeps in memory. */
const CACHE_BYTES = 256 * 1024 * 1024;

/** The built-in owner of embedded node `index` (created disabled, so no one logs in as it). */
export const embeddedOwnerName = (index: number) => `${SYSTEM_ACCOUNT_PREFIX}embedded_${index}`;
export const embeddedNodeId = (index: number) => `${EMBEDDED_NODE_ID_PREFIX}${index}`;

const WARNINGS = new Set(['network_error', 'still_unreachable', 'refused', 'slots_limited']);

class LogReporter implements Reporter {
  constructor(
    private readonly logger: Logger,
    /** The node's heartbeat found no node: an admin deleted it. */
    private readonly onNodeGone: () => void,
  ) {}

  emit(event: AgentEvent): void {
    if (event.event === 'refused' && event.during === 'heartbeat' && event.status === 404) {
      this.onNodeGone();
      return;
    }
    if (WARNINGS.has(event.event)) this.logger.warn(event);
    else this.logger.debug?.(event);
  }
}

/**
 * With EMBEDDED_NODE on (by default: the embedded database outside production), the server runs the node
 * agent in-process: each embedded node is registered under its own built-in owner with its own Ed25519 key
 * pair (kept in DATA_DIR/embedded-nodes/<n>/), and talks to the scheduling services directly.
 */
@Injectable()
export class EmbeddedNodes implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('EmbeddedNode');
  private readonly agents: Agent[] = [];

  constructor(
    private readonly config: EmbeddedNodeConfig,
    private readonly scheduling: SchedulingConfig,
    private readonly wasm: WasmConfig,
    private readonly core: CoreConfig,
    private readonly tx: TransactionRunner,
    private readonly users: UsersRepository,
    private readonly nodes: NodesRepository,
    private readonly heartbeats: HeartbeatService,
    private readonly claims: ClaimService,
    private readonly results: RunResultService,
    private readonly release: RunRelease,
    private readonly modules: ModuleStoreService,
    private readonly circuits: CircuitRegistryService,
    private readonly engine: WasmService,
    private readonly draining: ConnectionDraining,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.config.enabled) {
      // The tour's EMBEDDED_NODES=2 carried over to a PostgreSQL setup would otherwise leave tasks waiting unsaid.
      if (this.config.ignored) this.logger.warn(this.config.ignored);
      await this.retireLeftovers([]);
      return;
    }
    const { slots, warning } = embeddedNodeSlots(this.config, {
      maxConcurrentRuns: this.scheduling.maxConcurrentRuns,
      engineSlots: this.wasm.maxConcurrency,
    });
    if (warning) this.logger.warn(warning);
    for (const [at, concurrency] of slots.entries()) {
      // A node that cannot start (its id taken, its first heartbeat refused) is logged; the server still serves.
      const index = at + 1;
      const agent = await this.startNode(index, concurrency).catch((error: unknown) => {
        this.logger.error(`embedded node ${index} not started: ${String(error)}`);
        return null;
      });
      if (agent) this.agents.push(agent);
    }
    await this.retireLeftovers(slots.map((_, at) => embeddedNodeId(at + 1)));
  }

  /**
   * The embedded nodes of an earlier start that this one does not run (EMBEDDED_NODES lowered, EMBEDDED_NODE
   * off) are offline from now and their runs handed back, as a running node's are in startNode: left alone, their
   * runs would wait out their leases (an attempt each) and they would count as online until the liveness sweep.
   */
  private async retireLeftovers(running: string[]): Promise<void> {
    // Only on the embedded database: one process opens it, so nothing else can be running those nodes.
    if (!this.config.embeddedDatabase) return;
    try {
      for (const nodeId of await this.nodes.retireEmbedded(running)) {
        const released = await this.release.releaseLeftBehind(nodeId);
        this.logger.log(
          `embedded node ${nodeId} is not run by this start: offline, ${released} run(s) handed back`,
        );
      }
    } catch (error) {
      // The server still serves: their leases run out and the liveness sweep marks them offline, as before.
      this.logger.error(`embedded nodes of an earlier start not retired: ${String(error)}`);
    }
  }

  /** How many embedded nodes run now. */
  get running(): number {
    return this.agents.length;
  }

  private async retire(agent: Agent): Promise<void> {
    const at = this.agents.indexOf(agent);
    if (at >= 0) this.agents.splice(at, 1);
    await agent.stop(0);
  }

  async onModuleDestroy(): Promise<void> {
    const graceMs = Math.min(SHUTDOWN_GRACE_MS, this.draining.cutoffAfterMs / 2);
    await Promise.all(this.agents.splice(0).map((agent) => agent.stop(graceMs)));
  }

  private async startNode(index: number, concurrency: number): Promise<Agent | null> {
    // Registered at every start with the key pair it has: a damaged key file only needs removing.
    const keys = loadOrCreateKeyPair(
      join(this.core.dataDir, 'embedded-nodes', String(index)),
      'remove it and restart: the embedded node registers a new key pair at each start',
    );
    const nodeId = embeddedNodeId(index);
    const owner = await this.register(index, nodeId, keys.publicKeyBase64);
    if (!owner) {
      this.logger.error(
        `node id ${nodeId} or account ${embeddedOwnerName(index)} belongs to a user: embedded node ${index} not started`,
      );
      return null;
    }
    // Safe only on the embedded database: on a shared PostgreSQL another replica's node of this id may be live.
    if (this.config.embeddedDatabase) {
      const released = await this.release.releaseLeftBehind(nodeId);
      if (released > 0)
        this.logger.log(`embedded node ${nodeId}: ${released} run(s) of a previous start handed back`);
    }
    const principal: Principal = {
      userId: owner.userId,
      username: owner.username,
      role: 'user',
      scopes: [Scope.NodesAgent],
      authMethod: 'api_key',
      nodeId,
    };
    const services = {
      heartbeats: this.heartbeats,
      claims: this.claims,
      results: this.results,
      release: this.release,
      modules: this.modules,
      circuits: this.circuits,
    };
    let gone = false;
    // Deleted by an admin: its built-in owner cannot register it again, so the agent stops (one line, not a
    // refused heartbeat every few seconds) and the node is registered anew at the server's next start.
    const onNodeGone = () => {
      if (gone) return;
      gone = true;
      this.logger.warn(
        `embedded node ${nodeId} was deleted: it stops, and is registered again at the next start`,
      );
      void this.retire(agent);
    };
    const agent: Agent = new Agent({
      nodeId,
      concurrency,
      keys,
      transport: new DirectTransport(services, nodeId, principal),
      engine: this.engine,
      cache: new ContentCache(null, CACHE_BYTES),
      reporter: new LogReporter(this.logger, onNodeGone),
      version: `embedded-${this.core.version}`.slice(0, 32),
      telemetry,
    });
    await agent.start();
    this.logger.log(`embedded node ${nodeId} started (${agent.slots} slot${agent.slots === 1 ? '' : 's'})`);
    return agent;
  }

  /**
   * The node under its built-in owner, with this start's public key and measured capabilities: registered
   * fresh, or (after a restart) re-registered in place of the previous start's row.
   */
  private register(index: number, nodeId: string, publicKey: string) {
    return this.tx.run(async () => {
      const username = embeddedOwnerName(index);
      let owner = await this.users.findByUsername(username);
      if (!owner) {
        owner = await this.users.create({
          username,
          passwordHash: SYSTEM_ACCOUNT_PASSWORD_HASH,
          email: null,
          role: 'user',
        });
        await this.users.update(owner.userId, { disabled: true });
      } else if (!isSystemAccount(owner)) {
        // The hash tells the built-in owner apart from a user who registered the same name first.
        return null; // a user's own account of that name: never made the owner of a server-run node
      }
      const existing = await this.nodes.findLive(nodeId, null, true);
      if (existing && existing.ownerId !== owner.userId) return null;
      if (existing) await this.nodes.softDelete(nodeId);
      const capabilities = measureCapabilities();
      const node = await this.nodes.register({
        nodeId,
        ownerId: owner.userId,
        region: 'embedded',
        nodeType: 'compute',
        bandwidthMbps: capabilities.bandwidth_mbps,
        cpuCores: capabilities.cpu_cores,
        memoryGb: capabilities.memory_gb,
        gpuAvailable: capabilities.gpu_available,
        healthScore: NEUTRAL_SCORE,
        publicKey,
        labels: { embedded: 'true' },
      });
      return node ? owner : null;
    });
  }
}
