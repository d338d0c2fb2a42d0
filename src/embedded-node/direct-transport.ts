import type { Principal } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import type {
  AgentTransport,
  CircuitInfo,
  HeartbeatAnswer,
  HeartbeatBody,
  LeasedRun,
  ResultBody,
  SubmitAnswer,
} from '../agent/transport';
import { TransportError } from '../agent/transport';
import { HeartbeatService } from '../nodes/heartbeat.service';
import { CircuitRegistryService } from '../proofs/circuit-registry.service';
import { ClaimService } from '../scheduling/claim.service';
import type { RunResultRequestDto } from '../scheduling/dto/result.dto';
import { RunRelease } from '../scheduling/run-release';
import { RunResultService } from '../scheduling/run-result.service';
import { ModuleStoreService } from '../wasm/module-store.service';

export interface DirectServices {
  heartbeats: HeartbeatService;
  claims: ClaimService;
  results: RunResultService;
  release: RunRelease;
  modules: ModuleStoreService;
  circuits: CircuitRegistryService;
}

/**
 * The node protocol as direct calls into the server's own services (no HTTP): the embedded node goes through
 * the same heartbeat, claim and result code as a remote node, with the same checks (fences, signatures).
 */
export class DirectTransport implements AgentTransport {
  constructor(
    private readonly services: DirectServices,
    private readonly nodeId: string,
    /** The node's own principal, as a node key would authenticate it. */
    private readonly principal: Principal,
  ) {}

  heartbeat(body: HeartbeatBody): Promise<HeartbeatAnswer> {
    return call(() => this.services.heartbeats.heartbeat(this.principal, this.nodeId, body));
  }

  /** No Idempotency-Key: a direct call's answer cannot be lost on the way, so it is never repeated. */
  async claim(max: number, waitMs: number, signal: AbortSignal): Promise<LeasedRun[]> {
    if (signal.aborted) return [];
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<null>((resolve) => {
      onAbort = () => resolve(null);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const claimed = await Promise.race([
        call(() => this.services.claims.claim(this.nodeId, { max, wait_ms: waitMs }, undefined, signal)),
        aborted,
      ]);
      return claimed?.runs ?? [];
    } finally {
      signal.removeEventListener('abort', onAbort!);
    }
  }

  async submit(runId: string, body: ResultBody, claimNext?: number): Promise<SubmitAnswer> {
    try {
      const answer = await call(() =>
        this.services.results.submit(this.nodeId, runId, body as RunResultRequestDto),
      );
      const next =
        claimNext === undefined
          ? undefined
          : await call(() => this.services.claims.claimNext(this.nodeId, claimNext));
      return { accepted: true, taskStatus: answer.task_status, runStatus: answer.run_status, next };
    } catch (error) {
      if (error instanceof TransportError && error.code === 'lease_lost') {
        return { accepted: false, reason: 'lease_lost' };
      }
      throw error;
    }
  }

  /** A direct call needs no bound: it answers once its transaction commits. */
  release(runId: string, fence: string): Promise<void> {
    return call(() => this.services.release.releaseOwn(this.nodeId, runId, fence));
  }

  module(moduleId: string): Promise<Uint8Array> {
    return call(() => this.services.modules.read(moduleId));
  }

  circuit(circuitId: string): Promise<CircuitInfo> {
    return call(() => this.services.circuits.get(circuitId));
  }

  circuitArtifact(circuitId: string, kind: 'wasm' | 'zkey'): Promise<Uint8Array> {
    return call(() => this.services.circuits.artifact(circuitId, kind));
  }
}

/** The server's answers as the HTTP transport would give them: AppExceptions are refusals, the rest retryable. */
async function call<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AppException) {
      const status = error.getStatus();
      throw new TransportError(
        error.message,
        status >= 500 || status === 429,
        status,
        error.publicReason ?? error.code,
      );
    }
    throw new TransportError(error instanceof Error ? error.message : String(error), true);
  }
}
