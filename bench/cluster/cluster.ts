/**
 * A scale-out deployment on one machine, loopback only: a PostgreSQL and a Redis of the bench's own, N API
 * replicas on that one database (each with its own data directory: no shared disk), a TCP balancer in front,
 * and K agent processes whose nodes belong to a few distinct owners (quorum tasks need distinct owners).
 * `npm run chaos` breaks it on purpose; `npm run bench:scale` measures it.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'pg';
import { LIFTED_RATE_LIMITS } from '../support/bench-env';
import { AgentProcess } from './agent-process';
import { Balancer } from './balancer';
import { freePort } from './ports';
import { PrivatePostgres } from './private-postgres';
import { PrivateRedis } from './private-redis';
import { Replica } from './replica';

export interface ClusterOptions {
  runDir: string;
  replicas: number;
  agents: number;
  /** Accounts the agents' nodes are registered by, round-robin. */
  owners: number;
  agentConcurrency: number;
  /** fsync on (benches measure real commits); off for fault tests, where only processes crash. */
  durable?: boolean;
  /** Extra server environment (lease and heartbeat timings…). */
  serverEnv?: Record<string, string>;
}

export class Cluster {
  readonly replicas: Replica[] = [];
  readonly agents: AgentProcess[] = [];
  readonly balancer: Balancer;
  /** A pool on the cluster's database, for the checks (not used by the system under test). */
  readonly db: Pool;
  /** The API key of the account that submits tasks. */
  submitterKey = '';
  private ownerKeys: string[] = [];
  private suffix = '';

  private readonly databaseUrl: string;

  private get logDir(): string {
    return join(this.options.runDir, 'logs');
  }

  private constructor(
    private readonly options: ClusterOptions,
    readonly postgres: PrivatePostgres,
    readonly redis: PrivateRedis,
  ) {
    this.balancer = new Balancer(() => this.replicas.map((replica) => replica.port));
    this.databaseUrl = postgres.url('vcp');
    this.db = new Pool({ connectionString: this.databaseUrl, max: 4 });
    // The checks' pool outlives a PostgreSQL restart: a dropped idle client is an event, not a crash.
    this.db.on('error', () => undefined);
  }

  /**
   * Stops every cluster this process started when it is interrupted (SIGINT, SIGTERM) or fails: PostgreSQL is
   * a daemon of its own and would otherwise outlive the bench.
   */
  private static readonly live = new Set<Cluster>();
  private static handlersInstalled = false;

  private static installHandlers(): void {
    if (Cluster.handlersInstalled) return;
    Cluster.handlersInstalled = true;
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        console.error(`${signal}: stopping the cluster`);
        void Promise.all([...Cluster.live].map((cluster) => cluster.stop())).finally(() => process.exit(130));
      });
    }
  }

  static async start(options: ClusterOptions, log: (line: string) => void = console.log): Promise<Cluster> {
    Cluster.installHandlers();
    mkdirSync(join(options.runDir, 'logs'), { recursive: true });
    const postgres = await PrivatePostgres.create(await freePort(), options.durable);
    await postgres.createDatabase('vcp');
    const redis = new PrivateRedis(await freePort());
    await redis.start();
    const cluster = new Cluster(options, postgres, redis);
    Cluster.live.add(cluster);
    try {
      await cluster.boot(log);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  private async boot(log: (line: string) => void): Promise<void> {
    const { options, postgres, redis } = this;
    log(`PostgreSQL on :${postgres.port}, Redis on :${redis.port}`);
    const env = {
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: redis.url,
      ENVIRONMENT: 'development',
      LOG_LEVEL: process.env.CLUSTER_LOG_LEVEL ?? 'warn',
      BCRYPT_COST: '4',
      EMBEDDED_NODE: 'off',
      ...LIFTED_RATE_LIMITS,
      ...options.serverEnv,
    };
    for (let i = 0; i < options.replicas; i++) {
      const dataDir = join(options.runDir, `replica-${i}`);
      const replica = new Replica(`replica-${i}`, await freePort(), dataDir, env, this.logDir);
      // The first replica migrates the database and generates the development secrets the others share.
      if (i > 0) this.replicas[0].shareSecretsWith(replica);
      this.replicas.push(replica);
      await replica.start();
    }
    await this.balancer.start();
    log(`${options.replicas} replica(s) behind the balancer on ${this.balancer.url}`);

    this.suffix = randomBytes(3).toString('hex');
    this.submitterKey = await this.register(`submitter_${this.suffix}`);
    for (let i = 0; i < options.owners; i++)
      this.ownerKeys.push(await this.register(`owner${i}_${this.suffix}`));
    await this.addAgents(options.agents);
    log(`${options.agents} agent(s) started, nodes of ${options.owners} owner(s)`);
  }

  /** Starts `count` more agents (each a node of the next owner in turn) and waits until they run. */
  async addAgents(count: number): Promise<void> {
    const added: AgentProcess[] = [];
    for (let i = 0; i < count; i++) added.push(this.addAgent(`agent-${this.suffix}-${this.agents.length}`));
    await Promise.all(added.map((agent) => agent.start()));
  }

  async stop(): Promise<void> {
    if (!Cluster.live.delete(this)) return;
    await Promise.all(this.agents.map((agent) => agent.stop()));
    await Promise.all(this.replicas.map((replica) => replica.stop()));
    await this.balancer.stop();
    await this.db.end().catch(() => undefined);
    await this.redis.kill();
    await this.postgres.destroy();
    for (const process of [...this.agents, ...this.replicas]) process.close();
  }

  private addAgent(nodeId: string): AgentProcess {
    const ownerKey = this.ownerKeys[this.agents.length % this.ownerKeys.length];
    const args = [
      '--server',
      this.balancer.url,
      '--api-key',
      ownerKey,
      '--data-dir',
      join(this.options.runDir, 'agents', nodeId),
      '--concurrency',
      String(this.options.agentConcurrency),
      '--grace-secs',
      '2',
    ];
    const agent = new AgentProcess(nodeId, args, this.logDir);
    this.agents.push(agent);
    return agent;
  }

  private async register(username: string): Promise<string> {
    const res = await fetch(`${this.balancer.url}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: 'cluster password 123' }),
    });
    if (res.status !== 201) throw new Error(`registering ${username}: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { api_key: string }).api_key;
  }
}
