import { Injectable, Logger } from '@nestjs/common';
import { LruCache } from '../common/cache/lru-cache';
import { Clock } from '../common/clock/clock';
import { AppException } from '../common/errors/app.exception';
import { RefusalReason } from '../common/concurrency/fair-limiter';
import { userLane } from '../common/concurrency/fair-queue';
import { canonicalJson } from './canonical-json';
import type { VerifyProofResultDto } from './dto/verify.dto';
import { circuitRetired } from './circuit-retired';
import { CircuitRepository } from './circuit.repository';
import { NewProofArtifact, ProofArtifactRepository, ProofTaskOwner } from './proof-artifact.repository';
import { ProofSystem } from './proof-system';
import { ProofVerificationEvent, ProofVerificationObserver } from './proof-verification.observer';
import { VerifierPool, VerifyOutcome } from './verifier-pool';
import type { VerifyRequest } from './verify-request';
import { ShapeError, validateProof, validatePublicSignals } from './zk-validation';

interface CachedCircuit {
  circuitId: string;
  protocol: ProofSystem;
  nPublic: number;
  vkey: unknown;
  /** Retired when it was read. Retirement is not cached as current: see `verify`. */
  retired: boolean;
}

// A circuit id is the hash of its key, so a cached key can never be stale; the bound only caps memory.
const CIRCUIT_CACHE_SIZE = 256;

/** A proof checked against a circuit, with the verdict (not yet stored). */
export interface ProofCheck {
  circuitId: string;
  protocol: ProofSystem;
  proof: unknown;
  /** Canonical decimal strings, as validated. */
  publicSignals: string[];
  valid: boolean;
  errorMessage: string | null;
  verificationTimeMs: number;
  verifiedAt: Date;
}

interface ArtifactOwner {
  taskId: string | null;
  runId: string | null;
  submittedBy: string | null;
}

/** What a verification that ran to an answer can end as: these, and only these, are stored. */
type Verdict = Extract<VerifyOutcome, { kind: 'verified' | 'failed' }>;

function refusalMessage(reason: RefusalReason | undefined): string {
  switch (reason) {
    case 'lane_full':
      return 'Too many of your proof verifications are waiting; nothing was stored; retry later';
    case 'queue_full':
    case 'pushed_out':
    case 'wait_too_long':
    case 'deadline':
      return 'The proof verifier is busy; nothing was stored; retry later';
    case 'closed':
    case undefined:
      return 'Proof verification is unavailable right now; nothing was stored; retry later';
  }
}

const rejected = (error: ShapeError) => AppException.invalidField(error.field, error.reason);

/**
 * Verifies a proof against a registered circuit. Everything about the request is checked on the event loop
 * before snarkjs sees it (shape, protocol, curve, signal count, canonical decimals, field bounds), so a
 * malformed proof is a 422 with its reason; snarkjs itself runs on the VerifierPool's threads. An answer from
 * snarkjs (true, false, or a throw on this input) is stored; anything that is not an answer about the proof —
 * no thread in time, a run past its budget, a dead thread — is a 503 with Retry-After and stores nothing.
 */
@Injectable()
export class ProofVerificationService {
  private readonly logger = new Logger(ProofVerificationService.name);
  private readonly cache = new LruCache<string, CachedCircuit>({ maxEntries: CIRCUIT_CACHE_SIZE });

  constructor(
    private readonly circuits: CircuitRepository,
    private readonly artifacts: ProofArtifactRepository,
    private readonly pool: VerifierPool,
    private readonly observer: ProofVerificationObserver,
    private readonly clock: Clock,
  ) {}

  /**
   * `request` is a parsed body (VerifyRequestPipe); `callerId` is the authenticated user, and a task or run
   * named in the request must be theirs.
   */
  async verify(request: VerifyRequest, callerId: string): Promise<VerifyProofResultDto> {
    let circuit = await this.circuit(request.circuitId);
    // Deleted and registered again since it was cached as retired? Read it afresh before refusing.
    if (circuit.retired) {
      this.cache.delete(request.circuitId);
      circuit = await this.circuit(request.circuitId);
      if (circuit.retired) throw circuitRetired('proofs');
    }
    const taskId = await this.ownedTask(request, callerId);
    const check = await this.checkAgainst(
      circuit,
      request.proof,
      request.publicSignals,
      callerId,
      request.fields,
    );
    // A circuit cached as active may have been retired or deleted since, on any replica: the insert itself
    // checks, so the common case costs no extra read.
    const proofId = await this.artifacts.insertForActiveCircuit(
      this.artifactOf(check, { taskId, runId: request.runId, submittedBy: callerId }, check),
    );
    if (proofId === null) {
      this.cache.delete(request.circuitId);
      if ((await this.circuits.retirement(request.circuitId))?.retiredAt) throw circuitRetired('proofs');
      throw AppException.notFound('Circuit not found');
    }
    return {
      valid: check.valid,
      proof_id: proofId,
      circuit_id: circuit.circuitId,
      task_id: taskId,
      verified_at: check.verifiedAt.toISOString(),
      verification_time_ms: check.verificationTimeMs,
      error_message: check.errorMessage,
    };
  }

  /**
   * Verifies a proof against a circuit and stores nothing (a task run's result stores it in its own
   * transaction). Same refusals as `verify`: 404 for an unknown circuit, 422 naming a malformed field, 503 when
   * no verdict was reached — but a retired circuit is no refusal here: its tasks accepted before it was
   * retired run to the end. `lane` is the fair-queue lane of whoever submitted it.
   */
  async check(circuitId: string, proof: unknown, publicSignals: unknown, lane: string): Promise<ProofCheck> {
    return this.checkAgainst(await this.circuit(circuitId), proof, publicSignals, lane);
  }

  /** Stores a checked proof as an artifact; `verified` may be narrowed (a true proof of the wrong statement). */
  store(
    check: ProofCheck,
    owner: ArtifactOwner,
    verdict: { valid: boolean; errorMessage: string | null } = check,
  ): Promise<string> {
    return this.artifacts.insert(this.artifactOf(check, owner, verdict));
  }

  private artifactOf(
    check: ProofCheck,
    owner: ArtifactOwner,
    verdict: { valid: boolean; errorMessage: string | null },
  ): NewProofArtifact {
    return {
      taskId: owner.taskId,
      runId: owner.runId,
      // Validation admitted only strings, arrays and known keys, so this canonical form is deterministic.
      proofData: Buffer.from(canonicalJson(check.proof), 'utf8'),
      publicInputs: Buffer.from(canonicalJson(check.publicSignals), 'utf8'),
      circuitId: check.circuitId,
      proofSystem: check.protocol,
      verified: verdict.valid,
      verificationTimeMs: check.verificationTimeMs,
      verifiedAt: check.verifiedAt,
      errorMessage: verdict.errorMessage,
      submittedBy: owner.submittedBy,
    };
  }

  private async checkAgainst(
    circuit: CachedCircuit,
    proof: unknown,
    rawSignals: unknown,
    laneOwner: string,
    fields: VerifyRequest['fields'] = { proof: 'proof', publicSignals: 'public_signals' },
  ): Promise<ProofCheck> {
    let publicSignals: string[];
    try {
      validateProof(circuit.protocol, proof, fields.proof);
      publicSignals = validatePublicSignals(rawSignals, circuit.nPublic, fields.publicSignals);
    } catch (error) {
      throw error instanceof ShapeError ? rejected(error) : error;
    }

    const outcome = await this.pool.verify(
      { protocol: circuit.protocol, vkey: circuit.vkey, publicSignals, proof },
      userLane(laneOwner),
    );
    if (outcome.kind === 'unavailable') {
      this.logger.warn(`verification not run: ${outcome.message}`);
      // A queue's refusal sheds load; no reason is a thread or the pool failing.
      const message = refusalMessage(outcome.reason);
      throw outcome.reason === undefined
        ? AppException.unavailable(message, outcome.retryAfterMs)
        : AppException.overloaded(message, outcome.retryAfterMs);
    }
    if (outcome.kind === 'timeout') {
      // Not a verdict: a verification's work depends on the key, not on the proof's values, so a run past the
      // budget says the machine was starved, not that the proof is false. Storing `valid: false` would record
      // a valid proof as invalid for good; the caller can retry instead.
      this.observe(circuit, outcome);
      this.logger.warn(
        `verification on circuit ${circuit.circuitId} ran past ${this.pool.options.timeoutMs} ms`,
      );
      throw AppException.unavailable(
        `Proof verification did not finish within ${this.pool.options.timeoutMs} ms; nothing was stored; retry later`,
        this.pool.options.timeoutMs,
      );
    }
    if (outcome.kind === 'failed')
      this.logger.warn(`verifier failed on circuit ${circuit.circuitId}: ${outcome.message}`);
    this.observe(circuit, outcome);
    return {
      circuitId: circuit.circuitId,
      protocol: circuit.protocol,
      proof,
      publicSignals,
      valid: outcome.kind === 'verified' && outcome.valid,
      errorMessage: this.errorMessage(outcome),
      verificationTimeMs: Math.round(outcome.ms),
      verifiedAt: this.clock.now(),
    };
  }

  private errorMessage(outcome: Verdict): string | null {
    if (outcome.kind === 'failed') {
      // snarkjs's own message stays in the server log: it may describe internals.
      return 'The verifier could not evaluate this proof';
    }
    return outcome.valid ? null : "The proof does not verify against the circuit's verification key";
  }

  private observe(circuit: CachedCircuit, outcome: Verdict | { kind: 'timeout'; ms: number }): void {
    const label: ProofVerificationEvent['outcome'] =
      outcome.kind === 'verified' ? (outcome.valid ? 'valid' : 'invalid') : outcome.kind;
    this.observer.observe({
      circuitId: circuit.circuitId,
      protocol: circuit.protocol,
      outcome: label,
      durationSeconds: outcome.ms / 1000,
    });
  }

  /** Drops the cached circuit (retired or deleted here): the next verification reads it afresh. */
  forget(circuitId: string): void {
    this.cache.delete(circuitId);
  }

  private async circuit(circuitId: string): Promise<CachedCircuit> {
    const cached = this.cache.get(circuitId);
    if (cached) return cached;
    const record = await this.circuits.findById(circuitId);
    if (!record) throw AppException.notFound('Circuit not found');
    const circuit: CachedCircuit = {
      circuitId: record.circuitId,
      protocol: record.protocol,
      nPublic: record.nPublic,
      vkey: JSON.parse(record.verificationKey) as unknown,
      retired: record.retiredAt !== null,
    };
    this.cache.set(circuitId, circuit);
    return circuit;
  }

  /**
   * The task the proof is for, when one is named (directly or through its run): it must exist and have been
   * created by the caller. Any other case is the same 404, so a caller cannot probe for others' task ids.
   */
  private async ownedTask(request: VerifyRequest, callerId: string): Promise<string | null> {
    const taskId = request.taskId;
    if (request.runId) {
      const run = await this.artifacts.runOwner(request.runId);
      // Another user's run answers exactly as an unknown one: its id must not be probeable either.
      if (!run || (taskId && run.taskId !== taskId) || run.creatorId !== callerId) {
        throw AppException.notFound('Task run not found');
      }
      return boundTo(run, request, 'run_id');
    }
    if (!taskId) return null;
    const task = await this.artifacts.taskOwner(taskId);
    if (task?.creatorId !== callerId) throw AppException.notFound('Task not found');
    return boundTo(task, request, 'task_id');
  }
}

/**
 * A proof is bound only to a zk_proof task of its own circuit: an answer `{valid: true, task_id}` for another
 * task (a computation, another circuit's statement) would read as that task's statement proven.
 */
function boundTo(task: ProofTaskOwner, request: VerifyRequest, field: 'task_id' | 'run_id'): string {
  if (task.taskType !== 'zk_proof') {
    throw AppException.invalidField(
      field,
      `names a ${task.taskType} task: a proof is bound to a zk_proof task`,
    );
  }
  if (task.circuitId !== request.circuitId) {
    throw AppException.invalidField(
      field,
      "names a task of another circuit: a proof is bound to its circuit's tasks",
    );
  }
  return task.taskId;
}
