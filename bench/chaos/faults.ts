/**
 * The faults `npm run chaos` injects while work flows, each recorded with its time so the checks can tell
 * what a latency overlapped: agents SIGKILLed and restarted, one agent SIGSTOPped past its lease, one API
 * replica SIGKILLed and restarted, PostgreSQL crashed and restarted (readiness watched on every replica), and
 * Redis killed and restarted. Nothing else is ever restarted: recovery is the system's own.
 */
import type { AgentProcess } from '../cluster/agent-process';
import type { Cluster } from '../cluster/cluster';
import { sleep } from '../cluster/submitter';

export interface AgentKill {
  nodeId: string;
  at: number;
  /** Runs the agent had claimed and not finished with when it died. */
  heldRuns: { runId: string; taskId: string }[];
}

export interface PauseRecord {
  nodeId: string;
  pausedAt: number;
  resumedAt: number;
  heldRuns: { runId: string; taskId: string }[];
}

export interface OutageRecord {
  what: 'postgres' | 'redis' | 'replica' | 'pause';
  from: number;
  to: number;
  detail: string;
}

export interface ReadinessRecord {
  replica: string;
  /** The readiness status seen while PostgreSQL was down (503 expected). */
  whileDown: number;
  /** Seconds from PostgreSQL's return until the replica reported ready again, or null if it never did. */
  recoveredAfterS: number | null;
}

/** Runs this incarnation of the agent claimed (per its own lines) and has not yet submitted or dropped. */
export function heldRuns(agent: AgentProcess, before = Date.now()): { runId: string; taskId: string }[] {
  const held = new Map<string, string>();
  for (const event of agent.events.slice(agent.firstEventOfRun)) {
    // The agent's own timestamp: what it had done by then, however late this process read the line.
    if (Date.parse(event.time as string) > before) break;
    const runId = event.run_id as string | undefined;
    if (!runId) continue;
    if (event.event === 'claimed') held.set(runId, event.task_id as string);
    else if (['submitted', 'dropped', 'refused'].includes(event.event)) held.delete(runId);
  }
  return [...held].map(([runId, taskId]) => ({ runId, taskId }));
}

export class FaultInjector {
  readonly kills: AgentKill[] = [];
  readonly outages: OutageRecord[] = [];
  readonly readiness: ReadinessRecord[] = [];
  readonly failedRestarts: string[] = [];
  pause: PauseRecord | null = null;
  private paused: AgentProcess | null = null;

  constructor(
    private readonly cluster: Cluster,
    private readonly random: () => number,
    private readonly leaseSecs: number,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * SIGKILLs a random running agent every 1.5–4 s and restarts it 0.5–1.5 s later (in the background, so
   * kills keep coming while agents boot), until `stop()` returns true; resolves when every restart is done.
   */
  async killAgents(stop: () => boolean): Promise<void> {
    const restarts: Promise<void>[] = [];
    while (!stop()) {
      await sleep(1500 + this.random() * 2500);
      if (stop()) break;
      const candidates = this.cluster.agents.filter(
        (agent) => agent !== this.paused && agent.running && agent.started,
      );
      if (candidates.length === 0) continue;
      const agent = candidates[Math.floor(this.random() * candidates.length)];
      const at = Date.now();
      const held = heldRuns(agent, at);
      await agent.kill();
      this.kills.push({ nodeId: agent.nodeId, at, heldRuns: held });
      const downMs = 500 + this.random() * 1000;
      // Caught at once: a failed restart is a finding for the report, not an unhandled rejection.
      restarts.push(
        sleep(downMs)
          .then(() => agent.start())
          .catch((error: unknown) => void this.failedRestarts.push(String(error))),
      );
    }
    await Promise.all(restarts);
  }

  /**
   * SIGSTOPs an agent in the middle of a slow run (`isSlow`: a task that runs for a second or so; else any
   * agent holding a run) for the lease plus 3 s, then SIGCONTs it: its leases are re-let meanwhile, and what
   * it sends when it wakes must be refused. That agent is never SIGKILLed, so its late results are seen.
   */
  async pauseAgent(isSlow: (taskId: string) => boolean): Promise<void> {
    const holding = (slowOnly: boolean) =>
      this.cluster.agents.find(
        (a) => a.running && a.started && heldRuns(a).some((run) => !slowOnly || isSlow(run.taskId)),
      );
    let agent: AgentProcess | undefined;
    for (let tries = 0; tries < 300 && !agent; tries++) {
      agent = holding(true) ?? (tries >= 200 ? holding(false) : undefined);
      if (!agent) await sleep(50);
    }
    agent ??= this.cluster.agents[0];
    this.paused = agent;
    agent.signal('SIGSTOP');
    const pausedAt = Date.now();
    const held = heldRuns(agent, pausedAt);
    this.log(`SIGSTOP ${agent.nodeId} holding ${held.length} run(s), for ${this.leaseSecs + 3} s`);
    await sleep((this.leaseSecs + 3) * 1000);
    agent.signal('SIGCONT');
    this.pause = { nodeId: agent.nodeId, pausedAt, resumedAt: Date.now(), heldRuns: held };
    this.outages.push({ what: 'pause', from: pausedAt, to: Date.now(), detail: agent.nodeId });
  }

  async killReplica(index: number): Promise<void> {
    const replica = this.cluster.replicas[index];
    const from = Date.now();
    this.log(`SIGKILL ${replica.name}`);
    await replica.stop('SIGKILL');
    await sleep(2000);
    await replica.start();
    this.outages.push({ what: 'replica', from, to: Date.now(), detail: replica.name });
    this.log(`${replica.name} back after ${((Date.now() - from) / 1000).toFixed(1)} s`);
  }

  /** A crash (`pg_ctl stop -m immediate`), 3 s down, then start; readiness is watched on every replica. */
  async restartPostgres(): Promise<void> {
    const from = Date.now();
    this.log('PostgreSQL: crash (immediate stop)');
    await this.cluster.postgres.stop('immediate');
    const whileDown = await Promise.all(
      this.cluster.replicas.map(async (replica) => {
        for (let tries = 0; tries < 20; tries++) {
          const status = await replica.readiness();
          if (status === 503) return status;
          await sleep(100);
        }
        return replica.readiness();
      }),
    );
    await sleep(Math.max(0, 3000 - (Date.now() - from)));
    await this.cluster.postgres.start();
    const back = Date.now();
    this.outages.push({ what: 'postgres', from, to: back, detail: 'crash + restart' });
    this.log(`PostgreSQL back after ${((back - from) / 1000).toFixed(1)} s`);
    await Promise.all(
      this.cluster.replicas.map(async (replica, i) => {
        let recoveredAfterS: number | null = null;
        while (Date.now() - back < 60_000) {
          if ((await replica.readiness()) === 200) {
            recoveredAfterS = (Date.now() - back) / 1000;
            break;
          }
          await sleep(100);
        }
        this.readiness.push({ replica: replica.name, whileDown: whileDown[i], recoveredAfterS });
      }),
    );
  }

  async restartRedis(): Promise<void> {
    const from = Date.now();
    this.log('Redis: kill -9, 1 s down, start');
    await this.cluster.redis.kill();
    await sleep(1000);
    await this.cluster.redis.start();
    this.outages.push({ what: 'redis', from, to: Date.now(), detail: 'kill + restart' });
  }
}
