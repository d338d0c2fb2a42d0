import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
  registerDecorator,
} from 'class-validator';
import { IsNotReservedNodeId } from '../../common/validation/reserved-names';

export const NODE_TYPES = ['compute', 'gateway', 'storage', 'validator'] as const;
export type NodeType = (typeof NODE_TYPES)[number];
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_LABELS = 16;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const LABEL_VALUE_MAX = 128;
const WITHOUT_CONTROL_CHARACTERS = /^[^\p{Cc}]*$/u;

/** Why a labels object is refused, or null: at most 16 pairs, bounded keys, short printable string values. */
export function labelsProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'labels must be an object';
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > MAX_LABELS) return `labels may hold at most ${MAX_LABELS} pairs`;
  for (const [key, label] of entries) {
    if (!LABEL_KEY.test(key))
      return 'label keys are 1–63 letters, digits, ".", "_", "/" or "-", starting with a letter or digit';
    if (
      typeof label !== 'string' ||
      label.length > LABEL_VALUE_MAX ||
      !WITHOUT_CONTROL_CHARACTERS.test(label)
    )
      return `label values are strings of at most ${LABEL_VALUE_MAX} characters without control characters`;
  }
  return null;
}

function IsLabels(): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name: 'isLabels',
      target: target.constructor,
      propertyName: String(propertyName),
      validator: {
        validate: (value: unknown) => labelsProblem(value) === null,
        defaultMessage: (args) => labelsProblem(args?.value) ?? 'labels are invalid',
      },
    });
}

/** The original's capabilities object, with its ranges. */
export class NodeCapabilitiesDto {
  @ApiProperty({ minimum: 0, maximum: 100000, example: 150 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(100000)
  bandwidth_mbps!: number;

  @ApiProperty({ type: 'integer', minimum: 1, maximum: 1024, example: 8 })
  @IsInt()
  @Min(1)
  @Max(1024)
  cpu_cores!: number;

  @ApiProperty({ minimum: 0.1, maximum: 10000, example: 16 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0.1)
  @Max(10000)
  memory_gb!: number;

  @ApiProperty({ example: true })
  @IsBoolean()
  gpu_available!: boolean;
}

export class RegisterNodeDto {
  @ApiProperty({
    example: 'node-001',
    pattern: NODE_ID_PATTERN.source,
    description: '`embedded-<n>` is reserved for the embedded nodes',
  })
  @IsString()
  @Matches(NODE_ID_PATTERN, {
    message: 'node_id must be 1–64 ASCII letters, digits, "-" or "_"',
  })
  @IsNotReservedNodeId()
  node_id!: string;

  @ApiProperty({ example: 'us-west', minLength: 1, maxLength: 32 })
  @IsString()
  @Length(1, 32)
  @Matches(WITHOUT_CONTROL_CHARACTERS, { message: 'region must not contain control characters' })
  region!: string;

  @ApiProperty({ enum: NODE_TYPES, example: 'compute' })
  @IsIn(NODE_TYPES)
  node_type!: NodeType;

  @ApiProperty({ type: NodeCapabilitiesDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => NodeCapabilitiesDto)
  capabilities!: NodeCapabilitiesDto;

  @ApiPropertyOptional({
    description: 'Ed25519 public key: standard base64 of the 32 raw bytes, or an SPKI PEM',
    maxLength: 512,
    example: 'IYv6vzAMXFCzabP7Z6A49IC3gvTCtIgnL/9Vq724nhI=',
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  public_key?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: LABEL_VALUE_MAX },
    maxProperties: MAX_LABELS,
    example: { zone: 'a', rack: '12' },
  })
  @IsOptional()
  @IsLabels()
  labels?: Record<string, string>;
}
