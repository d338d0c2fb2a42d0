import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsObject, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { IsSha256Hex, SHA256_HEX_PATTERN } from '../../common/validation/sha256';
import { MAX_PROOF_DATA_CHARS, MAX_PUBLIC_INPUTS_CHARS } from '../verify-request';

/** More signals than this cannot fit in the route's body limit anyway. */
const MAX_PUBLIC_SIGNALS = 2048;

/**
 * Validates either accepted form at the level of types and sizes; which form it is, the fields each form
 * requires and everything about the proof itself are checked by the verification service (422 naming the
 * field). The OpenAPI document shows the two forms separately (the DTOs below).
 */
export class VerifyProofBodyDto {
  @IsSha256Hex('circuit_id must be 64 lowercase hex characters (a SHA-256)')
  circuit_id!: string;

  @IsOptional()
  @IsObject()
  proof?: Record<string, unknown>;

  @IsOptional()
  @IsArray()
  @ArrayMaxSize(MAX_PUBLIC_SIGNALS)
  public_signals?: unknown[];

  @IsOptional()
  @IsUUID('loose')
  task_id?: string;

  @IsOptional()
  @IsUUID('loose')
  run_id?: string;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_PROOF_DATA_CHARS)
  proof_data?: string;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_PUBLIC_INPUTS_CHARS)
  public_inputs?: string;
}

export class VerifyProofRequestDto {
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source }) circuit_id!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The proof as snarkjs writes it (groth16, plonk or fflonk; affine points)',
  })
  proof!: Record<string, unknown>;
  @ApiProperty({
    type: [String],
    maxItems: MAX_PUBLIC_SIGNALS,
    example: ['33', '11'],
    description: 'Canonical decimals below the bn128 scalar field order, exactly n_public of them',
  })
  public_signals!: string[];
  @ApiPropertyOptional({ format: 'uuid', description: 'A task of yours the proof is for' })
  task_id?: string;
  @ApiPropertyOptional({ format: 'uuid', description: 'A run of a task of yours' }) run_id?: string;
}

export class LegacyVerifyProofRequestDto {
  @ApiProperty({ format: 'uuid', description: 'A task of yours the proof is for' }) task_id!: string;
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source }) circuit_id!: string;
  @ApiProperty({ format: 'byte', maxLength: MAX_PROOF_DATA_CHARS, description: 'base64 of the proof JSON' })
  proof_data!: string;
  @ApiProperty({
    format: 'byte',
    maxLength: MAX_PUBLIC_INPUTS_CHARS,
    description: 'base64 of the public signals JSON',
  })
  public_inputs!: string;
  @ApiPropertyOptional({ format: 'uuid' }) run_id?: string;
}

export class VerifyProofResultDto {
  @ApiProperty() valid!: boolean;
  @ApiProperty({ format: 'uuid' }) proof_id!: string;
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source }) circuit_id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) task_id!: string | null;
  @ApiProperty({ format: 'date-time' }) verified_at!: string;
  @ApiProperty({ type: 'integer' }) verification_time_ms!: number;
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'Why the proof is not valid (null when it is)',
  })
  error_message!: string | null;
}
