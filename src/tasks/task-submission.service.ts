import { Injectable } from '@nestjs/common';
import type { NewAuditRecord } from '../audit/audit-log.repository';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { jsonSha256Hex } from '../common/crypto/json-hash';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { assertDeepJson } from '../common/validation/deep-json';
import { idempotencyKeyProblem } from '../common/validation/idempotency-key';
import { HttpConfig } from '../common/http/http.config';
import { WasmConfig } from '../wasm/wasm.config';
import { TransactionRunner } from '../database/transaction-runner';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { circuitRetired } from '../proofs/circuit-retired';
import { CircuitRegistryService } from '../proofs/circuit-registry.service';
import { ShapeError, validatePublicSignals } from '../proofs/zk-validation';
import { ProgramsService } from '../programs/programs.service';
import { ModuleOwnershipService } from '../wasm/module-ownership.service';
import { ModuleStoreService } from '../wasm/module-store.service';
import { moduleBytesOf } from '../wasm/module-upload';
import { CreateTaskDto, DEFAULT_MAX_ATTEMPTS, DEFAULT_QUEUE_TIMEOUT_SEC } from './dto/create-task.dto';
import type { TaskInfoDto } from './dto/task-responses.dto';
import { IdempotencyKeysRepository } from './idempotency-keys.repository';
import { TaskInsertBatcher } from './task-insert-batcher';
import { isModuleGone } from './task-inserts.repository';
import { LiveTaskLimit } from './live-task-limit';
import { toTaskInfo } from './task-view';
import { NewTask, TasksRepository } from './tasks.repository';
import { WorkSignal } from './work-signal';

const IDEMPOTENCY_TTL_SECS = 24 * 3600;

const invalid = (field: string, message: string) => AppException.validation([{ field, message }]);

/** A concurrent request with the same Idempotency-Key committed first: roll back and answer with its task. */
class IdempotencyRace extends Error {}

/** POST /tasks: per-type validation, module intake, Idempotency-Key, one insert, a wake-up for claimers. */
@Injectable()
export class TaskSubmissionService {
  constructor(
    private readonly http: HttpConfig,
    private readonly wasmConfig: WasmConfig,
    private readonly tasks: TasksRepository,
    private readonly inserts: TaskInsertBatcher,
    private readonly idempotencyKeys: IdempotencyKeysRepository,
    private readonly modules: ModuleStoreService,
    private readonly ownership: ModuleOwnershipService,
    private readonly circuits: CircuitRegistryService,
    private readonly programs: ProgramsService,
    private readonly audit: AuditService,
    private readonly tx: TransactionRunner,
    private readonly signal: WorkSignal,
    private readonly metrics: VcpMetrics,
    private readonly liveTasks: LiveTaskLimit,
  ) {}

  async submit(
    principal: Principal,
    dto: CreateTaskDto,
    idempotencyKey: string | undefined,
    meta: RequestMeta,
  ): Promise<TaskInfoDto> {
    const keyProblem = idempotencyKey === undefined ? null : idempotencyKeyProblem(idempotencyKey);
    if (keyProblem !== null) throw invalid('Idempotency-Key', keyProblem);
    const inputs = dto.inputs === undefined ? {} : dto.inputs;
    assertDeepJson(inputs, 'inputs');
    this.assertInputsWithinBodyLimit(inputs);
    // Only a submission with an Idempotency-Key is compared with an earlier one: hash the body only then.
    const requestHash = idempotencyKey === undefined ? '' : jsonSha256Hex(dto);
    if (idempotencyKey !== undefined) {
      const replay = await this.replay(principal, idempotencyKey, requestHash);
      if (replay) return replay;
    }
    await this.checkType(dto);
    const openTasks = await this.liveTasks.admit(principal.userId);
    // A computation runs a built-in program: its module, with the inputs that program reads (a prompt or the
    // original `{numbers, operation}` body is stored as the program inputs it maps to).
    const plan = dto.task_type === 'computation' ? this.programs.plan(inputs) : null;
    const { moduleId, newToUsage } = plan
      ? { moduleId: plan.moduleId, newToUsage: null }
      : await this.moduleOf(principal, dto, meta);
    const audit = this.audit.row(
      {
        action: 'task.submitted',
        status: 'success',
        userId: principal.userId,
        resourceType: 'task',
        metadata: { task_type: dto.task_type, priority: dto.priority ?? 0 },
      },
      meta,
    );
    const insertTask = () =>
      this.insert(principal, dto, plan ? plan.inputs : inputs, { moduleId, openTasks }, audit);
    // A module new to the user's usage is charged by this insert: its room is checked again, under the user's lock.
    const insert = () =>
      moduleId !== null && newToUsage !== null
        ? this.ownership.insertWithinQuota(principal.userId, moduleId, newToUsage.sizeBytes, insertTask)
        : insertTask();
    try {
      // Without an Idempotency-Key the insert is one atomic statement (shared with the submissions of the same
      // event-loop turn: TaskInsertBatcher; a zk_proof task's is a transaction, see `insert`); with one, the
      // key is claimed in the same transaction, so a concurrent twin that claimed it first rolls this task back.
      const task =
        idempotencyKey === undefined
          ? await insert()
          : await this.tx.run(async () => {
              const task = await insert();
              const claimed = await this.idempotencyKeys.claim(
                principal.userId,
                idempotencyKey,
                requestHash,
                task.taskId,
                IDEMPOTENCY_TTL_SECS,
              );
              if (!claimed) throw new IdempotencyRace();
              return task;
            });
      this.audit.written({ ...audit, resourceId: task.taskId });
      this.metrics.taskSubmitted(task.taskType);
      this.signal.notify();
      return toTaskInfo(task);
    } catch (error) {
      // Checked above, deleted (by its owner) before the insert: as if it had never been stored, not a 500.
      if (isModuleGone(error)) {
        throw dto.wasm_module !== undefined
          ? invalid('wasm_module', 'was deleted while the task was submitted: submit the task again')
          : invalid('module_id', 'no stored module has this id');
      }
      if (!(error instanceof IdempotencyRace) || idempotencyKey === undefined) throw error;
      const replay = await this.replay(principal, idempotencyKey, requestHash);
      if (!replay) throw error;
      return replay;
    }
  }

  /**
   * The route's body limit makes room for an inline module only: inputs are held to BODY_LIMIT_BYTES as on
   * every other route, since they are stored and sent to a node with each of the task's claims. JSON.stringify
   * is never longer than the text the client sent for the same value, so no body within BODY_LIMIT_BYTES fails.
   */
  private assertInputsWithinBodyLimit(inputs: unknown): void {
    const bytes = Buffer.byteLength(JSON.stringify(inputs));
    if (bytes <= this.http.bodyLimitBytes) return;
    throw new AppException(
      ErrorCode.PayloadTooLarge,
      `inputs take ${bytes} bytes as JSON, over BODY_LIMIT_BYTES (${this.http.bodyLimitBytes}): a task's ` +
        'body may be larger only by its inline module',
    );
  }

  /** The first request's task for a repeated key and body; a reused key with another body is a 422. */
  private async replay(principal: Principal, key: string, requestHash: string): Promise<TaskInfoDto | null> {
    const existing = await this.idempotencyKeys.findLive(principal.userId, key);
    if (!existing) return null;
    if (existing.requestHash !== requestHash) {
      throw new AppException(
        ErrorCode.ValidationError,
        'Idempotency-Key was used with another request body',
        {
          reason: ErrorReason.IdempotencyKeyReused,
          extra: { details: [{ field: 'Idempotency-Key', message: 'was used with another request body' }] },
        },
      );
    }
    const task = await this.tasks.findLive(existing.taskId);
    // A 404 would say the route is wrong; a new task would break the key's promise (one task per key).
    if (!task) {
      throw new AppException(
        ErrorCode.Conflict,
        'The task this Idempotency-Key created was deleted: send the submission with a new key',
        { reason: ErrorReason.IdempotencyKeyTaskDeleted },
      );
    }
    return toTaskInfo(task);
  }

  /** What each task type needs, with a 422 naming the field that is missing or not allowed. */
  private async checkType(dto: CreateTaskDto): Promise<void> {
    // Accepted, it would be leased to nodes that can only refuse it: an `error` against each honest node's
    // record, then `attempts_exhausted` — or, with one node, a task pending until its queue timeout.
    if (dto.task_type === 'federated_learning') {
      const message = 'federated_learning tasks cannot run yet: no node executes them';
      throw new AppException(ErrorCode.ValidationError, `task_type: ${message}`, {
        reason: ErrorReason.TaskTypeNotSupported,
        extra: { details: [{ field: 'task_type', message }] },
      });
    }
    checkQuorum(dto);
    if (dto.wasm_module !== undefined && dto.module_id !== undefined) {
      throw invalid('wasm_module', 'give either wasm_module or module_id, not both');
    }
    const hasModule = dto.wasm_module !== undefined || dto.module_id !== undefined;
    if (dto.task_type === 'computation' && hasModule) {
      const field = dto.module_id !== undefined ? 'module_id' : 'wasm_module';
      throw invalid(field, 'computation tasks run a built-in program (inputs.program); use wasm_execution');
    }
    // Refused before the module is stored: the server would bind the module to the receipt that the prover
    // signs without it, so every honest result would be signature_invalid (and count against its node).
    if (dto.task_type === 'zk_proof' && hasModule) {
      const field = dto.module_id !== undefined ? 'module_id' : 'wasm_module';
      throw invalid(field, 'zk_proof tasks run their circuit (circuit_id), not a module');
    }
    if (dto.task_type === 'wasm_execution' && !hasModule) {
      throw invalid('module_id', 'wasm_execution needs a module: module_id or wasm_module');
    }
    if (dto.task_type !== 'zk_proof') {
      if (dto.circuit_id !== undefined) throw invalid('circuit_id', 'only zk_proof tasks take a circuit');
      return;
    }
    if (dto.circuit_id === undefined) throw invalid('circuit_id', 'zk_proof needs a registered circuit');
    const circuit = await this.circuits.get(dto.circuit_id).catch((error: unknown) => {
      if (error instanceof AppException && error.code === ErrorCode.NotFound) return null;
      throw error;
    });
    if (!circuit) throw invalid('circuit_id', 'no such circuit is registered');
    if (circuit.wasm_sha256 === null || circuit.zkey_sha256 === null) {
      throw invalid('circuit_id', 'the circuit has no witness generator (wasm) and proving key (zkey)');
    }
    // The statement to prove: a proof is accepted only with exactly these public signals (outputs, then public
    // inputs, in the circuit's order). Everything else in `inputs` (a witness, say) is for the node alone.
    const inputs = dto.inputs as { public_signals?: unknown } | undefined;
    if (typeof inputs !== 'object' || inputs === null || Array.isArray(inputs)) {
      throw invalid('inputs', 'zk_proof needs an object with public_signals, the statement to prove');
    }
    try {
      validatePublicSignals(inputs.public_signals, circuit.n_public, 'inputs.public_signals');
    } catch (error) {
      if (error instanceof ShapeError) throw invalid(error.field, error.reason);
      throw error;
    }
  }

  /**
   * A stored module's id, storing `wasm_module` first exactly as an upload would (outside any transaction);
   * `newToUsage` when the task is what will charge the module to the user (not owned, not run by a live task).
   */
  private async moduleOf(
    principal: Principal,
    dto: CreateTaskDto,
    meta: RequestMeta,
  ): Promise<{ moduleId: string | null; newToUsage: { sizeBytes: number } | null }> {
    if (dto.wasm_module !== undefined) {
      const bytes = moduleBytesOf({ wasm_module: dto.wasm_module }, this.wasmConfig.maxModuleBytes);
      // Stored as the user's own upload, under the same storage quota.
      const { record } = await this.ownership.upload(bytes, principal, meta, 'task');
      return { moduleId: record.moduleId, newToUsage: null };
    }
    if (dto.module_id === undefined) return { moduleId: null, newToUsage: null };
    const module = await this.modules.metadata(dto.module_id).catch((error: unknown) => {
      if (error instanceof AppException && error.code === ErrorCode.NotFound) {
        throw invalid('module_id', 'no stored module has this id');
      }
      throw error;
    });
    // A live task keeps its module stored, so the module counts toward its creator's quota too.
    const isNew = await this.ownership.assertCanRun(principal.userId, module.moduleId, module.sizeBytes);
    return { moduleId: dto.module_id, newToUsage: isNew ? { sizeBytes: module.sizeBytes } : null };
  }

  private insert(
    principal: Principal,
    dto: CreateTaskDto,
    inputs: unknown,
    { moduleId, openTasks }: { moduleId: string | null; openTasks: number },
    audit: NewAuditRecord,
  ) {
    const r = dto.requirements;
    const task: NewTask = {
      creatorId: principal.userId,
      taskType: dto.task_type,
      inputs,
      inputsHash: jsonSha256Hex(inputs),
      minNodes: r.min_nodes,
      quorum: r.quorum ?? r.min_nodes,
      maxRuns: r.max_runs ?? (r.min_nodes > 1 ? r.min_nodes + 2 : r.min_nodes),
      verificationMode: r.verification ?? 'replicate',
      maxExecutionTimeSec: r.max_execution_time_sec,
      requireGpu: r.require_gpu ?? false,
      requireProof: r.require_proof ?? false,
      minCpuCores: r.min_cpu_cores ?? null,
      minMemoryGb: r.min_memory_gb ?? null,
      moduleId,
      circuitId: dto.circuit_id ?? null,
      args: dto.args ?? [],
      deterministic: dto.deterministic ?? true,
      priority: dto.priority ?? 0,
      maxAttempts: dto.max_attempts ?? DEFAULT_MAX_ATTEMPTS,
      queueTimeoutSec: dto.queue_timeout_sec ?? DEFAULT_QUEUE_TIMEOUT_SEC,
      creatorOpenTasks: openTasks,
    };
    const circuitId = task.circuitId;
    if (circuitId === null) return this.inserts.insert(task, audit);
    // Retirement is judged here, with the row locked in the insert's transaction, not by checkType's earlier
    // read: a retirement committed in between would not stop the task (a retired row still satisfies the
    // foreign key), and the remover would not count it. zk_proof tasks only: other submissions keep their one
    // batched statement.
    return this.tx.run(async () => {
      const circuit = await this.circuits.lockForNewWork(circuitId);
      if (!circuit) throw invalid('circuit_id', 'no such circuit is registered');
      if (circuit.retired) throw circuitRetired('tasks');
      return this.inserts.insert(task, audit);
    });
  }
}

/** Quorum rules: a majority of min_nodes (two disjoint groups can never both win), and room for every run. */
function checkQuorum(dto: CreateTaskDto): void {
  const { min_nodes: n, quorum, max_runs: maxRuns } = dto.requirements;
  if (quorum !== undefined && (quorum > n || quorum * 2 <= n)) {
    throw invalid(
      'requirements.quorum',
      `must be a majority of min_nodes: more than ${n / 2} and at most ${n}`,
    );
  }
  if (dto.requirements.verification === 'adaptive' && n < 2) {
    throw invalid('requirements.verification', 'adaptive replication needs min_nodes ≥ 2 (a quorum to skip)');
  }
  if (maxRuns !== undefined && maxRuns < n) {
    throw invalid('requirements.max_runs', 'must be at least min_nodes');
  }
  // Accepted, these would be stored and shown but do nothing: a task of one run has no quorum to seek.
  if (n === 1 && maxRuns !== undefined && maxRuns > 1) {
    throw invalid('requirements.max_runs', 'applies to quorum tasks (min_nodes ≥ 2)');
  }
  if (dto.requirements.require_proof === true && dto.task_type !== 'zk_proof') {
    throw invalid('requirements.require_proof', 'only zk_proof tasks produce a proof');
  }
  if (dto.task_type === 'zk_proof' && n > 1) {
    throw invalid('requirements.min_nodes', 'a zk_proof task is verified by its proof: min_nodes must be 1');
  }
  // A built-in program reads only its inputs, and a prover only the witness: argv would be stored and ignored.
  if (dto.args !== undefined && dto.args.length > 0 && dto.task_type !== 'wasm_execution') {
    throw invalid('args', 'only wasm_execution tasks take command-line arguments');
  }
  if (dto.deterministic === false && dto.task_type === 'zk_proof') {
    throw invalid('deterministic', 'applies to WebAssembly runs: a zk_proof task is checked by its proof');
  }
}
