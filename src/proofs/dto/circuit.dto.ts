import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsOptional, IsString, Length, Matches } from 'class-validator';
import { PROOF_SYSTEMS } from '../proof-system';
import type { ProofSystem } from '../proof-system';

/**
 * Types and bounds only: the registry checks the key's exact snarkjs shape, the curve and the upload sizes
 * (which come from the configuration, so they cannot be decorator constants) and names the failing field.
 */
export class RegisterCircuitDto {
  @ApiProperty({ example: 'multiplier', minLength: 1, maxLength: 128 })
  @IsString()
  @Length(1, 128)
  @Matches(/^[^\p{Cc}]+$/u, { message: 'name must not contain control characters' })
  name!: string;

  @ApiProperty({ enum: PROOF_SYSTEMS })
  @IsIn(PROOF_SYSTEMS)
  protocol!: ProofSystem;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The verification key snarkjs exports (curve bn128, of the declared protocol)',
  })
  @IsObject()
  verification_key!: Record<string, unknown>;

  @ApiPropertyOptional({
    format: 'byte',
    description: 'Standard base64 of the witness generator (.wasm), at most CIRCUIT_WASM_MAX_BYTES',
  })
  @IsOptional()
  @IsString()
  wasm?: string;

  @ApiPropertyOptional({
    format: 'byte',
    description: 'Standard base64 of the proving key (.zkey), at most CIRCUIT_ZKEY_MAX_BYTES',
  })
  @IsOptional()
  @IsString()
  zkey?: string;
}

export class CircuitDto {
  @ApiProperty({ pattern: '^[0-9a-f]{64}$', description: "SHA-256 of the key's canonical JSON" })
  circuit_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: PROOF_SYSTEMS }) protocol!: ProofSystem;
  @ApiProperty({ example: 'bn128' }) curve!: string;
  @ApiProperty({ description: 'Number of public signals a proof carries' }) n_public!: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) verification_key!: unknown;
  @ApiProperty({ nullable: true, type: String }) wasm_sha256!: string | null;
  @ApiProperty({ nullable: true, type: Number }) wasm_size!: number | null;
  @ApiProperty({ nullable: true, type: String }) zkey_sha256!: string | null;
  @ApiProperty({ nullable: true, type: Number }) zkey_size!: number | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
}

export class CircuitPageDto {
  @ApiProperty({ type: [CircuitDto] }) items!: CircuitDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page' })
  next_cursor!: string | null;
}
