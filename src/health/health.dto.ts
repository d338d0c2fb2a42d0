import { ApiProperty, getSchemaPath } from '@nestjs/swagger';

export class HealthResponseDto {
  @ApiProperty({ example: 'healthy' })
  status!: string;

  @ApiProperty({ example: '0.1.0' })
  version!: string;

  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' })
  timestamp!: string;
}

export class CheckResultDto {
  @ApiProperty({ enum: ['up', 'down', 'degraded'] })
  status!: 'up' | 'down' | 'degraded';

  @ApiProperty({ type: 'integer' })
  latency_ms!: number;

  @ApiProperty({ required: false })
  error?: string;
}

export class ReadinessResponseDto {
  @ApiProperty({ example: 'ready', enum: ['ready', 'degraded'] })
  status!: string;

  @ApiProperty({ type: 'object', additionalProperties: { $ref: getSchemaPath(CheckResultDto) } })
  checks!: Record<string, CheckResultDto>;
}
