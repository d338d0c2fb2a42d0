import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsObject, IsOptional, IsString } from 'class-validator';
import { PageDto, PageQueryDto } from '../../common/pagination/page.dto';
import { IsDisplayName } from '../../common/validation/display-name';
import { IsQueryBoolean } from '../../common/validation/query-boolean';
import { SHA256_HEX_PATTERN } from '../../common/validation/sha256';
import type { CircuitRecord } from '../circuit.repository';
import { PROOF_SYSTEMS } from '../proof-system';
import type { ProofSystem } from '../proof-system';

/**
 * Types and bounds only: CircuitRegistrationPipe then checks the key's exact snarkjs shape, the curve and the
 * upload sizes (which come from the configuration, so they cannot be decorator constants) and names the field.
 */
export class RegisterCircuitDto {
  @ApiProperty({ example: 'multiplier', minLength: 1, maxLength: 128 })
  @IsDisplayName()
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
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source, description: "SHA-256 of the key's canonical JSON" })
  circuit_id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: PROOF_SYSTEMS }) protocol!: ProofSystem;
  @ApiProperty({ example: 'bn128' }) curve!: string;
  @ApiProperty({ type: 'integer', description: 'Number of public signals a proof carries' })
  n_public!: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) verification_key!: unknown;
  @ApiProperty({ nullable: true, type: String }) wasm_sha256!: string | null;
  @ApiProperty({ nullable: true, type: 'integer' }) wasm_size!: number | null;
  @ApiProperty({ nullable: true, type: String }) zkey_sha256!: string | null;
  @ApiProperty({ nullable: true, type: 'integer' }) zkey_size!: number | null;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'When an admin retired it: still readable, but no new zk_proof tasks or proofs name it',
  })
  retired_at!: string | null;
}

export class CircuitPageDto extends PageDto(CircuitDto) {}

export class ListCircuitsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    description: 'Only retired circuits (true) or only active ones (false); all if absent',
  })
  @IsQueryBoolean()
  retired?: boolean;
}

export const CIRCUIT_REMOVAL_OUTCOMES = ['deleted', 'retired'] as const;

/** The answer to `DELETE /admin/circuits/:circuit_id`. */
export class CircuitRemovalDto {
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source }) circuit_id!: string;
  @ApiProperty({
    enum: CIRCUIT_REMOVAL_OUTCOMES,
    description:
      '`deleted`: nothing referenced it; it is gone with its wasm and zkey (files no other circuit uses). ' +
      '`retired`: tasks or proofs reference it; it stays readable but takes no new tasks or proofs',
  })
  outcome!: (typeof CIRCUIT_REMOVAL_OUTCOMES)[number];
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'null when deleted' })
  retired_at!: string | null;
  @ApiProperty({ description: 'It was retired by an earlier call (retired_at is that call’s)' })
  already_retired!: boolean;
  @ApiProperty({
    type: 'integer',
    description:
      'Its pending or running tasks, left to finish (their nodes still download wasm and zkey); ' +
      '`GET /tasks?circuit_id=…&all=true` lists them',
  })
  unfinished_tasks!: number;
}

/** The answer to a registration: the circuit, and whether its key was registered before. */
export class RegisteredCircuitDto extends CircuitDto {
  @ApiProperty({
    description:
      'The key was registered before (200): the same circuit, its missing wasm/zkey filled in from this call',
  })
  already_existed!: boolean;
}

export function toCircuitDto(record: CircuitRecord): CircuitDto {
  return {
    circuit_id: record.circuitId,
    name: record.name,
    protocol: record.protocol,
    curve: record.curve,
    n_public: record.nPublic,
    verification_key: JSON.parse(record.verificationKey) as unknown,
    wasm_sha256: record.wasmSha256,
    wasm_size: record.wasmSize,
    zkey_sha256: record.zkeySha256,
    zkey_size: record.zkeySize,
    created_at: record.createdAt.toISOString(),
    retired_at: record.retiredAt?.toISOString() ?? null,
  };
}
