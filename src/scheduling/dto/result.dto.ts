import { ANY_JSON } from '../../common/openapi/any-json';
import { DEFAULT_DEEP_JSON_LIMITS, DeepJsonLimits } from '../../common/validation/deep-json';
import { IsDeepJson } from '../../common/validation/deep-json.decorator';
import { IsFence } from '../../common/validation/fence';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { NullIsAValue } from '../../common/validation/optional-nulls';
import { PROGRAM_FAULT_OUTCOMES, RESULT_OUTCOMES } from '../../common/runs/run-outcomes';
import type { ResultOutcome } from '../../common/runs/run-outcomes';
import { LeasedRunDto } from './claim.dto';

/** Outcomes that are the task's own fault: two distinct nodes reporting one identically fail the task. */
export const TASK_FAULT_OUTCOMES: readonly ResultOutcome[] = PROGRAM_FAULT_OUTCOMES;

const HEX64 = /^[0-9a-f]{64}$/;
/** The most characters of stdout and of stderr a result carries. */
export const MAX_RESULT_TEXT_CHARS = 65_536;
/** The most public signals a result carries. */
const MAX_PUBLIC_SIGNALS = 1024;

/**
 * The free-form fields of a result get the inputs' deep-JSON limits (finite numbers, depth, sizes), checked
 * before the body is hashed (RFC 8785 throws on a non-finite number: a 500). Strings are bounded by the body
 * limit only: an output that is not JSON within the limits is the guest's stdout as text, up to
 * WASM_MAX_OUTPUT_BYTES.
 */
const RESULT_JSON_LIMITS: DeepJsonLimits = Object.freeze({
  ...DEFAULT_DEEP_JSON_LIMITS,
  maxStringLength: Number.MAX_SAFE_INTEGER,
});

export class RunResultRequestDto {
  @ApiProperty({ description: 'The fence of the lease, as claimed', example: '1' })
  @IsFence()
  fence!: string;

  @ApiProperty({ enum: RESULT_OUTCOMES }) @IsIn(RESULT_OUTCOMES) outcome!: ResultOutcome;

  @ApiPropertyOptional({
    ...ANY_JSON,
    description:
      'Any JSON value within the deep-JSON limits; for an ok zk_proof result, {proof, public_signals} with the ' +
      'values of those fields',
  })
  @IsOptional()
  @NullIsAValue()
  @IsDeepJson(RESULT_JSON_LIMITS)
  output?: unknown;

  @ApiProperty({ pattern: HEX64.source, description: 'Lowercase hex SHA-256 of the RFC 8785 form of output' })
  @IsString()
  @Matches(HEX64, { message: 'output_hash must be a lowercase hex SHA-256' })
  output_hash!: string;

  @ApiPropertyOptional({ maxLength: MAX_RESULT_TEXT_CHARS })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_RESULT_TEXT_CHARS)
  stdout?: string;

  @ApiPropertyOptional({ maxLength: MAX_RESULT_TEXT_CHARS })
  @IsOptional()
  @IsString()
  @MaxLength(MAX_RESULT_TEXT_CHARS)
  stderr?: string;

  @ApiPropertyOptional({ type: 'integer', format: 'int32', minimum: -2147483648, maximum: 2147483647 })
  @IsOptional()
  @IsInt()
  @Min(-2147483648)
  @Max(2147483647)
  exit_code?: number;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: 86_400_000 })
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  execution_time_ms!: number;

  // A bigint column; JSON numbers past 2^53 are not exact anyway.
  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  gas_used?: number;

  @ApiPropertyOptional({
    description: 'zk_proof tasks: the proof (snarkjs JSON), checked against the task’s circuit',
  })
  @IsOptional()
  @IsObject()
  @IsDeepJson(RESULT_JSON_LIMITS)
  proof?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_PUBLIC_SIGNALS,
    description: 'zk_proof tasks: the proof’s public signals; must equal the task’s inputs.public_signals',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_PUBLIC_SIGNALS)
  @IsDeepJson({ ...RESULT_JSON_LIMITS, maxArrayItems: MAX_PUBLIC_SIGNALS })
  public_signals?: unknown[];

  @ApiProperty({
    maxLength: 128,
    description:
      'Standard base64 (padded, nothing else) of the Ed25519 signature over the UTF-8 RFC 8785 form of the receipt ' +
      '{task_id, run_id, fence, module_hash | circuit_id, inputs_hash, output_hash, proof_hash, outcome, ' +
      'execution_time_ms} (absent fields omitted), by the key the node registered',
  })
  @IsString()
  @MaxLength(128)
  signature!: string;
}

export class RunResultResponseDto {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty({ enum: ['succeeded', 'failed', 'rejected'] }) run_status!: string;
  @ApiProperty() task_status!: string;
  @ApiProperty({ nullable: true, type: String }) task_status_reason!: string | null;
  @ApiPropertyOptional({
    type: [LeasedRunDto],
    description: 'Only with a `Claim-Next` header: the runs leased to this node by the claim it carried',
  })
  next_runs?: LeasedRunDto[];
}
