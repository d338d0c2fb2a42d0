import { IsFence } from '../../common/validation/fence';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsUUID,
  ValidateNested,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
} from 'class-validator';
import { PageQueryDto } from '../../common/pagination/page.dto';
import { IsDateTime } from '../../common/validation/date-time';
import { NODE_TYPES } from './register-node.dto';
import type { NodeType } from './register-node.dto';

export const NODE_STATUSES = ['online', 'offline', 'busy', 'draining', 'suspended', 'rejected'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

const Percent = () => [IsOptional(), IsNumber({ allowNaN: false, allowInfinity: false }), Min(0), Max(100)];
const apply =
  (...decorators: PropertyDecorator[]): PropertyDecorator =>
  (target, key) => {
    for (const decorator of decorators) decorator(target, key);
  };

/** A lease the node holds and wants renewed (see the scheduling module). */
export class HeldRunDto {
  @ApiProperty({ format: 'uuid' }) @IsUUID() run_id!: string;

  @ApiProperty({ description: 'The fence of the lease, as claimed', example: '1' })
  @IsFence()
  fence!: string;
}

/** A held run's identity for the uniqueness check; an entry without a run id is unlike any other. */
const runIdentity = (run: unknown): unknown => {
  const runId = (run as { run_id?: unknown } | null)?.run_id;
  return typeof runId === 'string' ? runId.toLowerCase() : Symbol();
};

/** Telemetry a node reports with its heartbeat; every field optional (the original sent an empty body). */
export class HeartbeatDto {
  @ApiPropertyOptional({ minimum: 0, maximum: 100 }) @apply(...Percent()) cpu_usage?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 100 }) @apply(...Percent()) memory_usage?: number;
  @ApiPropertyOptional({ minimum: 0, maximum: 100 }) @apply(...Percent()) disk_usage?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 600000 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(600_000)
  network_latency_ms?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 100000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  active_tasks?: number;

  @ApiPropertyOptional({ maxLength: 32, example: '0.3.1' })
  @IsOptional()
  @IsString()
  @Length(1, 32)
  @Matches(/^[\x21-\x7e]+$/, { message: 'agent_version must be printable ASCII without spaces' })
  agent_version?: string;

  @ApiPropertyOptional({
    type: [HeldRunDto],
    maxItems: 1024,
    uniqueItems: true,
    description:
      'Leases to renew, each run once: a `run_id` named twice is 422, even with different fences ' +
      '(stricter than `uniqueItems`, which only refuses equal entries)',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1024)
  // The answer lists run ids only: a run named twice (one fence stale) would read as both renewed and lost.
  @ArrayUnique(runIdentity, { message: 'runs must name each run once' })
  @ValidateNested({ each: true })
  @Type(() => HeldRunDto)
  runs?: HeldRunDto[];
}

const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' ? true : value === 'false' ? false : value;

export class ListNodesQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ enum: NODE_STATUSES, description: 'Only nodes with this status' })
  @IsOptional()
  @IsIn(NODE_STATUSES)
  status?: NodeStatus;

  @ApiPropertyOptional({ enum: NODE_TYPES, description: 'Only nodes of this type' })
  @IsOptional()
  @IsIn(NODE_TYPES)
  node_type?: NodeType;

  @ApiPropertyOptional({ maxLength: 32, description: 'Only nodes in this region (exact, case-sensitive)' })
  @IsOptional()
  @IsString()
  @Length(1, 32)
  region?: string;

  @ApiPropertyOptional({ description: 'Admins only: every user’s nodes', type: Boolean })
  @IsOptional()
  @Transform(toBoolean)
  @IsIn([true, false], { message: 'all must be true or false' })
  all?: boolean;
}

export class HeartbeatHistoryQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ format: 'date-time', description: 'Only rows recorded at or after this time' })
  @IsOptional()
  @IsDateTime()
  since?: string;
}

export class RotateNodeKeyDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: 86400,
    default: 0,
    description: 'How long the node’s current key keeps working, so the agent can switch without a gap',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86400)
  grace_seconds?: number;
}
