import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Scope } from '../common/auth/scopes';

export type ApiKeyRevokedReason = 'revoked' | 'rotated' | 'owner_deleted';

@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn('uuid', { name: 'key_id' })
  keyId!: string;

  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  /** HMAC-SHA256 (hex) of the whole key under API_KEY_PEPPER; the key itself is never stored. */
  @Column({ name: 'key_hash', type: 'varchar', length: 128 })
  keyHash!: string;

  @Column({ name: 'key_prefix', type: 'varchar', length: 16 })
  keyPrefix!: string;

  @Column({ type: 'varchar', length: 128 })
  name!: string;

  @Column({ type: 'text', array: true })
  scopes!: Scope[];

  @Column({ name: 'rate_limit_tier', type: 'varchar', length: 32 })
  rateLimitTier!: string;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt!: Date | null;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', insert: false, update: false })
  createdAt!: Date;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt!: Date | null;

  @Column({ name: 'revoked_reason', type: 'varchar', length: 255, nullable: true })
  revokedReason!: ApiKeyRevokedReason | null;

  @Column({ name: 'replaced_by', type: 'uuid', nullable: true })
  replacedBy!: string | null;
}
