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
  @ApiProperty({ type: 'integer', description: 'Past this, the run’s outcome is `timeout`' })
  timeout_ms!: number;
  @ApiProperty({ type: 'integer', description: 'The module’s memory cap (`memory_limit`)' })
  memory_mb!: number;
  @ApiProperty({ type: 'integer', description: 'Most stdout bytes (`output_limit`)' }) output_bytes!: number;
}

/** Everything the node needs to execute the run (README, Tasks and scheduling: "Executing a WASM run"). */
export class RunSpecDto {
  @ApiProperty({
    nullable: true,
    type: String,
    description: 'WASM runs: the module’s SHA-256 (hex), which the receipt names as `module_hash`',
  })
  module_id!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The module’s bytes: a path on this server' })
  module_url!: string | null;
  @ApiProperty({
    ...ANY_JSON,
    description:
      'The task inputs (any JSON): `JSON.stringify` of them is the module’s stdin, the SHA-256 of their RFC 8785 form the receipt’s `inputs_hash`',
  })
  inputs!: unknown;
  @ApiProperty({ type: [String], description: 'The module’s argv after `main`' }) args!: string[];
  @ApiProperty({ description: 'Fixed clocks and seeded random_get (README: "Executing a WASM run")' })
  deterministic!: boolean;
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
  @ApiProperty({
    format: 'date-time',
    description:
      'RUN_LEASE_SECS after the claim, or the run’s deadline (max_execution_time_sec + 900 s) if sooner. ' +
      'Renew the lease by heartbeats (`runs`) at least every third of the time until then',
  })
  lease_expires_at!: string;
  @ApiProperty({ type: RunSpecDto }) spec!: RunSpecDto;
}

export class ClaimResponseDto {
  @ApiProperty({ type: [LeasedRunDto] }) runs!: LeasedRunDto[];
}
