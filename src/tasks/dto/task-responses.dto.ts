import { ANY_JSON } from '../../common/openapi/any-json';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { TASK_STATUSES, TASK_TYPES } from '../../common/tasks/task-kinds';
import { TaskRequirementsDto } from './create-task.dto';

/** `trusted_node`: adaptive replication let a node with a long valid streak run the task alone. */
export const VERIFICATION_METHODS = ['none', 'quorum', 'proof', 'trusted_node'] as const;
export type VerificationMethod = (typeof VERIFICATION_METHODS)[number];

export class TaskVerificationDto {
  @ApiProperty({ enum: VERIFICATION_METHODS }) method!: VerificationMethod;
  @ApiPropertyOptional({
    enum: ['replicate', 'adaptive'],
    description: 'min_nodes ≥ 2: requirements.verification',
  })
  mode?: string;
  @ApiPropertyOptional({
    type: 'integer',
    description: 'quorum: how many agreeing runs of distinct owners complete the task',
  })
  quorum?: number;
  @ApiPropertyOptional({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The run whose output the task completed with (its receipt: GET /tasks/:task_id/receipt)',
  })
  canonical_run_id?: string | null;
}

export class TaskRunDto {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty() node_id!: string;
  @ApiProperty({ enum: ['leased', 'succeeded', 'failed', 'expired', 'cancelled', 'rejected'] })
  status!: string;
  @ApiProperty({
    type: 'integer',
    description:
      'The task’s attempt this run spent (a run given back uncharged shares the next run’s number)',
  })
  attempt!: number;
  @ApiProperty({ nullable: true, type: String }) outcome!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'Shown once the task is no longer open: nodes never learn each other’s hashes before the decision',
  })
  output_hash!: string | null;
  @ApiProperty({
    enum: ['valid', 'invalid'],
    nullable: true,
    type: String,
    description: 'Compared with the accepted output: valid, invalid, or null (not compared)',
  })
  verdict!: string | null;
  @ApiProperty({ nullable: true, type: 'integer' }) execution_time_ms!: number | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) started_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) finished_at!: string | null;
  @ApiProperty({
    nullable: true,
    type: 'integer',
    description:
      'The module’s exit code; shown at once for a failed run, for the others once the task is decided',
  })
  exit_code!: number | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'The last 4 096 characters of the run’s stdout, as its node reported it (shown like exit_code); null ' +
      'when the node sent none: the VCP agent sends it for a run that did not end `ok` (an `ok` run’s ' +
      'stdout is its output)',
  })
  stdout_tail!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'The last 4 096 characters of the run’s stderr, where a trap or a failed proof says why (shown like exit_code)',
  })
  stderr_tail!: string | null;
}

/** The original TaskInfo (`task_id` … `proof_id`) and our additions. */
export class TaskInfoDto {
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty({
    format: 'uuid',
    description: 'The user who submitted it: yours in your own lists; in an admin’s (`?all=true`), whose it is',
  })
  creator_id!: string;
  @ApiProperty({ enum: TASK_TYPES }) task_type!: string;
  @ApiProperty({ enum: TASK_STATUSES }) status!: string;
  @ApiProperty({ type: [String], description: 'Nodes holding or having completed a run' })
  assigned_nodes!: string[];
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time' }) updated_at!: string;
  @ApiProperty({ ...ANY_JSON, description: 'The accepted output (any JSON value), once completed' })
  result!: unknown;
  @ApiPropertyOptional({
    enum: [true],
    description:
      'Only in lists, when the result is over 64 KiB of JSON: `result` is null there, and the task’s own view ' +
      '(GET /tasks/{task_id}) has it',
  })
  result_omitted?: true;
  @ApiProperty({ nullable: true, type: String }) proof_id!: string | null;
  @ApiProperty({ type: TaskRequirementsDto }) requirements!: TaskRequirementsDto;
  @ApiProperty({ nullable: true, type: String }) module_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) circuit_id!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    description:
      'pending or running: why it waits (a sentence: README, Tasks and scheduling) or null; failed: one of ' +
      '`attempts_exhausted`, `unexecutable`, `proof_invalid`, `no_consensus`, `queue_timeout`; cancelled: ' +
      '`cancelled_by_user` or `deleted`; completed: null',
  })
  status_reason!: string | null;
  @ApiProperty({
    type: 'integer',
    description:
      'Runs the task was charged. Every run of a quorum task counts, so its budget is `max_attempts` plus the ' +
      'runs its quorum seeks, less one: `attempts` may pass `max_attempts` there',
  })
  attempts!: number;
  @ApiProperty({
    type: 'integer',
    description: 'Attempts a task may spend on failed or lost runs before it fails as `attempts_exhausted`',
  })
  max_attempts!: number;
  @ApiProperty({ type: 'integer' }) priority!: number;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) completed_at!: string | null;
  @ApiProperty({ type: TaskVerificationDto }) verification!: TaskVerificationDto;
  @ApiPropertyOptional({
    ...ANY_JSON,
    example: { program: 'expression', expression: '2+3*4' },
    description:
      'The task’s own view only (GET /tasks/:task_id and the cancel answer; not lists): the inputs as stored and ' +
      'given to the nodes, exactly the JSON value whose RFC 8785 (JCS) form’s SHA-256 is the receipt’s ' +
      '`inputs_hash`. `{}` when none were sent; a `computation` task sent the original’s `{prompt}` or ' +
      '`{numbers, operation}` shows the program inputs they were mapped to',
  })
  inputs?: unknown;
  @ApiPropertyOptional({
    type: [TaskRunDto],
    description: 'The task’s own view only (GET /tasks/:task_id and the cancel answer)',
  })
  runs?: TaskRunDto[];
}

export class TaskPageDto {
  @ApiProperty({ type: [TaskInfoDto] }) items!: TaskInfoDto[];
  @ApiProperty({ nullable: true, type: String }) next_cursor!: string | null;
}

export class TaskDeletedDto {
  @ApiProperty() message!: string;
  @ApiProperty({ format: 'uuid' }) task_id!: string;
}
