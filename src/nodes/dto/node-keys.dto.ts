import { ApiProperty } from '@nestjs/swagger';
import type { ApiKeyRecord } from '../../api-keys/api-keys.repository';
import { PageDto } from '../../common/pagination/page.dto';

/** One of a node's keys as its owner (or an admin) sees it: never the key itself nor its hash. */
export class NodeKeyInfoDto {
  @ApiProperty({ format: 'uuid', example: '6f1c2a9e-4b7d-4e0a-9c3b-2d8e5f7a1b40' }) key_id!: string;
  @ApiProperty({ example: 'vcp_AbCd1234', description: 'The first 12 characters, to recognise the key' })
  key_prefix!: string;
  @ApiProperty({
    description:
      'Whether the key authenticates now: not revoked and not past `expires_at` (by the database’s clock)',
  })
  active!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description:
      'When the key stops (or stopped) working: the end of a rotation’s grace period, the same time the ' +
      'key’s `Sunset` header carries. null: no end was set',
  })
  expires_at!: string | null;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The key that replaced this one in a rotation',
  })
  replaced_by!: string | null;
  @ApiProperty({
    format: 'date-time',
    nullable: true,
    type: String,
    description:
      'Written at most once a minute: a key in its grace period whose `last_used_at` still moves is in use',
  })
  last_used_at!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) revoked_at!: string | null;
}

export class NodeKeyPageDto extends PageDto(NodeKeyInfoDto) {}

export function toNodeKeyInfoDto(key: ApiKeyRecord): NodeKeyInfoDto {
  return {
    key_id: key.keyId,
    key_prefix: key.keyPrefix,
    active: key.revokedAt === null && !key.expired,
    created_at: key.createdAt.toISOString(),
    expires_at: key.expiresAt?.toISOString() ?? null,
    replaced_by: key.replacedBy,
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
  };
}

const CURRENT = '6f1c2a9e-4b7d-4e0a-9c3b-2d8e5f7a1b40';
const PREVIOUS = '0b9d3c1e-8a2f-4c6d-b7e5-93f1a4d2c8e6';

/** The OpenAPI example: a rotation with a grace period under way, after an earlier one without. */
export const NODE_KEY_PAGE_EXAMPLE: { items: NodeKeyInfoDto[]; next_cursor: string | null } = {
  items: [
    {
      key_id: CURRENT,
      key_prefix: 'vcp_7Qm2Xc9L',
      active: true,
      created_at: '2026-07-01T12:00:00.000Z',
      expires_at: null,
      replaced_by: null,
      last_used_at: '2026-07-01T12:03:10.000Z',
      revoked_at: null,
    },
    {
      key_id: PREVIOUS,
      key_prefix: 'vcp_Hk4sPz0a',
      active: true,
      created_at: '2026-06-01T08:30:00.000Z',
      expires_at: '2026-07-01T13:00:00.000Z',
      replaced_by: CURRENT,
      last_used_at: '2026-07-01T12:01:40.000Z',
      revoked_at: null,
    },
    {
      key_id: 'a3e8f0c2-5d1b-4f7a-8e6c-1b2d3f4a5c6d',
      key_prefix: 'vcp_Rt8wYb3N',
      active: false,
      created_at: '2026-05-02T09:00:00.000Z',
      expires_at: null,
      replaced_by: PREVIOUS,
      last_used_at: '2026-06-01T08:29:15.000Z',
      revoked_at: '2026-06-01T08:30:00.000Z',
    },
  ],
  next_cursor: null,
};
