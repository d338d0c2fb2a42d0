import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { WasmConfig } from '../wasm/wasm.config';
import { TaskEventSignal } from '../tasks/task-event-signal';
import { WorkSignal } from '../tasks/work-signal';
import type { ClaimRequestDto, ClaimResponseDto, LeasedRunDto } from './dto/claim.dto';
import { ClaimedRun, RunsRepository } from './runs.repository';
import { SchedulingConfig } from './scheduling.config';

/** Claimers re-check at least this often while waiting: wake-ups are hints, this poll is the guarantee. */
const FALLBACK_POLL_MS = 1000;

/**
 * Claims with long polling: try at once; with nothing to lease, wait for a wake-up (a submission or a
 * requeue on this replica) or the fallback poll, and try again until `wait_ms` has passed.
 */
@Injectable()
export class ClaimService implements OnModuleDestroy {
  private closing = false;
  private readonly stopWaiting = new Set<() => void>();

  constructor(
    private readonly runs: RunsRepository,
    private readonly config: SchedulingConfig,
    private readonly wasmConfig: WasmConfig,
    private readonly signal: WorkSignal,
    private readonly events: TaskEventSignal,
    private readonly metrics: VcpMetrics,
  ) {}

  onModuleDestroy(): void {
    this.closing = true;
    for (const stop of this.stopWaiting) stop();
  }

  /** null: nothing to do within `wait_ms` (204). */
  async claim(nodeId: string, dto: ClaimRequestDto): Promise<ClaimResponseDto | null> {
    const max = dto.max ?? 1;
    const waitMs = dto.wait_ms ?? 0;
    let expired = waitMs === 0;
    let wake: (() => void) | undefined;
    const deadline = expired
      ? undefined
      : setTimeout(() => {
          expired = true;
          wake?.();
        }, waitMs);
    try {
      for (;;) {
        const started = performance.now();
        const claimed = await this.runs.claim(
          nodeId,
          max,
          this.config.maxConcurrentRuns,
          this.config.leaseSecs,
        );
        this.metrics.observeClaim(claimed.length > 0, (performance.now() - started) / 1000);
        if (claimed.length > 0) {
          this.events.publish(...claimed.map((run) => run.taskId));
          return { runs: claimed.map((run) => this.toLeasedRun(run)) };
        }
        if (expired || this.closing) return null;
        await this.nextChance((done) => (wake = done));
      }
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Resolves on a work signal, after the fallback poll interval, at the deadline, or at shutdown. */
  private nextChance(onDeadline: (done: () => void) => void): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(poll);
        unsubscribe();
        this.stopWaiting.delete(done);
        resolve();
      };
      const poll = setTimeout(done, FALLBACK_POLL_MS);
      const unsubscribe = this.signal.subscribe(done);
      this.stopWaiting.add(done);
      onDeadline(done);
    });
  }

  private toLeasedRun(run: ClaimedRun): LeasedRunDto {
    const wasm = this.wasmConfig;
    return {
      run_id: run.runId,
      task_id: run.taskId,
      task_type: run.taskType,
      fence: run.fence,
      lease_expires_at: run.leaseExpiresAt.toISOString(),
      spec: {
        module_id: run.moduleId,
        module_url: run.moduleId ? `/api/v1/modules/${run.moduleId}/download` : null,
        inputs: run.inputs,
        args: run.args,
        deterministic: run.deterministic,
        limits: {
          timeout_ms: run.maxExecutionTimeSec * 1000,
          memory_mb: Math.floor(wasm.maxMemoryBytes / (1024 * 1024)),
          output_bytes: wasm.maxOutputBytes,
        },
        ...(run.circuitId ? { circuit_id: run.circuitId } : {}),
      },
    };
  }
}
