import { Injectable } from '@nestjs/common';
import { NODE_KEY_SCOPES } from '../common/auth/scopes';
import { keyedHash } from '../common/crypto/keyed-hash';
import type { PageRequest } from '../common/pagination/page';
import { TransactionRunner } from '../database/transaction-runner';
import { ApiKeyAuthService } from './api-key-auth.service';
import { displayPrefix, generateApiKey } from './api-key.format';
import { ApiKeysConfig } from './api-keys.config';
import { ApiKeyRecord, ApiKeyRevokedReason, ApiKeysRepository } from './api-keys.repository';

export interface IssuedNodeKey {
  keyId: string;
  keyPrefix: string;
  /** The key itself: shown once, to whoever registered or rotated the node. */
  apiKey: string;
  createdAt: Date;
}

export interface NodeKeyRotation {
  issued: IssuedNodeKey;
  previousKeyIds: string[];
  /** Until when the previous keys still work; null when they were revoked at once (or there were none). */
  previousExpiresAt: Date | null;
}

/**
 * Node credentials: API keys in the same `vcp_` format, HMAC storage and revocation as users' keys, bound to
 * one node (`api_keys.node_id`) and carrying only `nodes:agent`. They are not in their owner's key list and do
 * not count against the owner's key limit; the nodes module manages them through the node. Call these inside
 * the caller's transaction (they join it), then `forget` the returned ids once it has committed.
 */
@Injectable()
export class NodeKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly auth: ApiKeyAuthService,
    private readonly transactions: TransactionRunner,
    private readonly config: ApiKeysConfig,
  ) {}

  async issue(ownerId: string, nodeId: string): Promise<IssuedNodeKey> {
    const apiKey = generateApiKey();
    const record = await this.keys.insert({
      userId: ownerId,
      keyHash: keyedHash(apiKey, this.config.pepper),
      keyPrefix: displayPrefix(apiKey),
      name: `node:${nodeId}`,
      scopes: [...NODE_KEY_SCOPES],
      rateLimitTier: 'general',
      expiresAt: null,
      nodeId,
    });
    return { keyId: record.keyId, keyPrefix: record.keyPrefix, apiKey, createdAt: record.createdAt };
  }

  /** A new key for the node; its previous keys are revoked now, or retire after `graceSeconds`. */
  rotate(ownerId: string, nodeId: string, graceSeconds: number): Promise<NodeKeyRotation> {
    return this.transactions.run(async () => {
      const issued = await this.issue(ownerId, nodeId);
      if (graceSeconds === 0) {
        const previousKeyIds = await this.keys.revokeNodeKeys(nodeId, 'rotated', issued.keyId);
        return { issued, previousKeyIds, previousExpiresAt: null };
      }
      const retired = await this.keys.retireNodeKeysAfterGrace(nodeId, issued.keyId, graceSeconds);
      return { issued, previousKeyIds: retired.keyIds, previousExpiresAt: retired.expiresAt };
    });
  }

  /** One page of the node's keys, newest first, revoked and expired ones included (`request.fetch` rows). */
  list(nodeId: string, request: PageRequest): Promise<ApiKeyRecord[]> {
    return this.keys.listNodeKeys(nodeId, request.after, request.fetch);
  }

  /** Whether every live key of the node is still unused (its holder has not authenticated with it yet). */
  keysUnused(nodeId: string): Promise<boolean> {
    return this.keys.nodeKeysUnused(nodeId);
  }

  revokeAll(
    nodeId: string,
    reason: Extract<ApiKeyRevokedReason, 'node_deleted' | 'node_rejected'>,
  ): Promise<string[]> {
    return this.keys.revokeNodeKeys(nodeId, reason);
  }

  /** Drops revoked or retired keys from this replica's cache at once (other replicas follow within 2 s). */
  forget(keyIds: readonly string[]): void {
    for (const keyId of keyIds) this.auth.forget(keyId);
  }
}
