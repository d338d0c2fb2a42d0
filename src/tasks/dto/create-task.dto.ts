import { ANY_JSON } from '../../common/openapi/any-json';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsDefined,
  IsIn,
  IsObject,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { NullIsAValue } from '../../common/validation/optional-nulls';
import { TASK_TYPES } from '../../common/tasks/task-kinds';
import type { TaskType } from '../../common/tasks/task-kinds';
import { RUN_LIMITS } from '../../wasm/run-request';

export const VERIFICATION_MODES = ['replicate', 'adaptive'] as const;
export type VerificationMode = (typeof VERIFICATION_MODES)[number];

export const SHA256_HEX = /^[0-9a-f]{64}$/;
/** Longest accepted `wasm_module` text; the module's own cap (WASM_MAX_MODULE_BYTES) is checked on decode. */
const MAX_MODULE_BASE64 = 180_000_000;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_QUEUE_TIMEOUT_SEC = 86_400;
const MAX_MIN_NODES = 1000;

/** The original's requirements, plus optional capability floors (no hidden per-type minimums). */
/** No `u` flag: `[\s\S]` is one UTF-16 unit, so an emoji counts two. */
const ARG_WITHIN_LIMIT = new RegExp(`^[\\s\\S]{0,${RUN_LIMITS.maxArgLength}}$`);

export class TaskRequirementsDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_MIN_NODES, example: 1 })
  @IsInt()
  @Min(1)
  @Max(MAX_MIN_NODES)
  min_nodes!: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 1000,
    description:
      'min_nodes ≥ 2: how many runs on nodes of distinct owners must agree on the output hash (a majority of ' +
      'min_nodes, at most min_nodes; default min_nodes)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  quorum?: number;

  // Up to the default of the largest min_nodes: a task's requirements, as it answers them, are accepted again.
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_MIN_NODES + 2,
    description:
      'min_nodes ≥ 2: the most runs with a result before the task fails as no_consensus (one more run per ' +
      'disagreement; default min_nodes + 2)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_MIN_NODES + 2)
  max_runs?: number;

  @ApiPropertyOptional({
    enum: VERIFICATION_MODES,
    default: 'replicate',
    description:
      'min_nodes ≥ 2: `replicate` always runs the quorum; `adaptive` lets a node with a long valid streak ' +
      '(≥ 10) run the task alone with probability 1 − 1/streak (BOINC’s adaptive replication)',
  })
  @IsOptional()
  @IsIn(VERIFICATION_MODES)
  verification?: VerificationMode;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 3600, example: 60 })
  @IsInt()
  @Min(1)
  @Max(3600)
  max_execution_time_sec!: number;

  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() require_gpu?: boolean;
  @ApiPropertyOptional({ default: false }) @IsOptional() @IsBoolean() require_proof?: boolean;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1024 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1024)
  min_cpu_cores?: number;

  @ApiPropertyOptional({ minimum: 0.1, maximum: 10000 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.1)
  @Max(10000)
  min_memory_gb?: number;
}

/** The original body (`task_type`, `wasm_module`, `inputs`, `requirements`) and our additions. */
export class CreateTaskDto {
  @ApiProperty({
    enum: TASK_TYPES,
    description: '`federated_learning` is refused (422 `task_type_not_supported`) until nodes execute it',
  })
  @IsIn(TASK_TYPES)
  task_type!: TaskType;

  @ApiPropertyOptional({
    maxLength: MAX_MODULE_BASE64,
    description: 'Standard base64 of a module, stored like an upload',
  })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_MODULE_BASE64)
  wasm_module?: string;

  @ApiPropertyOptional({ ...ANY_JSON, description: 'Any JSON value within the deep-JSON limits; default {}' })
  @IsOptional()
  @NullIsAValue()
  inputs?: unknown;

  @ApiProperty({ type: TaskRequirementsDto })
  @IsDefined()
  // Without it an array passes: ValidateNested checks each element, and the insert met a null (a 500).
  @IsObject()
  @ValidateNested()
  @Type(() => TaskRequirementsDto)
  requirements!: TaskRequirementsDto;

  @ApiPropertyOptional({
    pattern: SHA256_HEX.source,
    description: 'A stored module (instead of wasm_module)',
  })
  @IsOptional()
  @IsString()
  @Matches(SHA256_HEX, { message: 'module_id must be a lowercase hex SHA-256' })
  module_id?: string;

  @ApiPropertyOptional({ pattern: SHA256_HEX.source, description: 'zk_proof: a registered circuit' })
  @IsOptional()
  @IsString()
  @Matches(SHA256_HEX, { message: 'circuit_id must be a lowercase hex SHA-256' })
  circuit_id?: string;

  // The engine's argv contract, as on the run route: a node may refuse longer ones (issue 7).
  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'string', maxLength: RUN_LIMITS.maxArgLength },
    maxItems: RUN_LIMITS.maxArgs,
    description: `argv after the program name; strings of at most ${RUN_LIMITS.maxArgLength} characters`,
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(RUN_LIMITS.maxArgs)
  @IsString({ each: true })
  // UTF-16 units, as the run route and the engine count them (MaxLength would count an emoji as one).
  @Matches(ARG_WITHIN_LIMIT, {
    each: true,
    message: `each value in args must be at most ${RUN_LIMITS.maxArgLength} characters (UTF-16 units)`,
  })
  args?: string[];

  @ApiPropertyOptional({ default: true }) @IsOptional() @IsBoolean() deterministic?: boolean;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 9,
    default: 0,
    description: 'Higher runs first',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(9)
  priority?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 100, default: DEFAULT_MAX_ATTEMPTS })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  max_attempts?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: 2_592_000,
    default: DEFAULT_QUEUE_TIMEOUT_SEC,
    description:
      'Seconds from submission that the task may wait for a node. Past them no node is leased it, and it fails ' +
      '(`queue_timeout`) once no node holds it: a lease held then runs its course.',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(2_592_000)
  queue_timeout_sec?: number;
}
