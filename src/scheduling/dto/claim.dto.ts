import { ANY_JSON } from '../../common/openapi/any-json';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** The most runs one claim leases (a claim's `max`, a result's `Claim-Next`). */
export const MAX_CLAIM = 16;

export class ClaimRequestDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_CLAIM,
    default: 1,
    description: 'Most runs to lease at once',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_CLAIM)
  max?: number;

  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 25000,
    default: 0,
    description: 'Long poll: wait this long for work',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(25_000)
  wait_ms?: number;
}

/** Whether a claim's body asks to wait for work (a long poll); read from the body as parsed, for the metrics. */
export function claimWaits(request: { body?: unknown }): boolean {
  const wait = (request.body as { wait_ms?: unknown } | null | undefined)?.wait_ms;
  return typeof wait === 'number' && wait > 0;
}

export class RunLimitsDto {
  @ApiProperty({ type: 'integer' }) timeout_ms!: number;
  @ApiProperty({ type: 'integer' }) memory_mb!: number;
  @ApiProperty({ type: 'integer' }) output_bytes!: number;
}

/** Everything the node needs to execute the run. */
export class RunSpecDto {
  @ApiProperty({ nullable: true, type: String }) module_id!: string | null;
  @ApiProperty({ nullable: true, type: String }) module_url!: string | null;
  @ApiProperty({ ...ANY_JSON, description: 'The task inputs (any JSON)' }) inputs!: unknown;
  @ApiProperty({ type: [String] }) args!: string[];
  @ApiProperty() deterministic!: boolean;
  @ApiProperty({ type: RunLimitsDto }) limits!: RunLimitsDto;
  @ApiPropertyOptional({ type: String, description: 'zk_proof runs: the circuit to prove with' })
  circuit_id?: string;
  @ApiPropertyOptional({ type: String, description: 'zk_proof runs: the circuit’s wasm (node keys allowed)' })
  circuit_wasm_url?: string;
  @ApiPropertyOptional({ type: String, description: 'zk_proof runs: the circuit’s zkey (node keys allowed)' })
  circuit_zkey_url?: string;
}

export class LeasedRunDto {
  @ApiProperty({ format: 'uuid' }) run_id!: string;
  @ApiProperty({ format: 'uuid' }) task_id!: string;
  @ApiProperty() task_type!: string;
  @ApiProperty({ description: 'Decimal string; send it back with renewals and the result' }) fence!: string;
  @ApiProperty({ format: 'date-time' }) lease_expires_at!: string;
  @ApiProperty({ type: RunSpecDto }) spec!: RunSpecDto;
}

export class ClaimResponseDto {
  @ApiProperty({ type: [LeasedRunDto] }) runs!: LeasedRunDto[];
}
