import { Injectable, Logger } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditRowBudget } from '../audit/audit-row-budget';
import { AuditService } from '../audit/audit.service';
import { keySunsetOf } from '../common/auth/key-sunset';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { LruCache } from '../common/cache/lru-cache';
import { NODE_KEY_SCOPES, ROLE_SCOPES } from '../common/auth/scopes';
import { Clock } from '../common/clock/clock';
import { keyedHash } from '../common/crypto/keyed-hash';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { isWellFormedApiKey } from './api-key.format';
import { ApiKeysConfig } from './api-keys.config';
import { ApiKeysRepository } from './api-keys.repository';

export type ApiKeyFailure = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'owner_disabled';
/** The key a refused credential is, when it is one (revoked, expired, of a disabled owner). */
export interface RefusedKey {
  keyId: string;
  ownerId: string;
}
export type ApiKeyCheck =
  { ok: true; principal: Principal } | { ok: false; reason: ApiKeyFailure; key?: RefusedKey };

interface CachedLookup {
  keyId: string | null;
  ownerId: string | null;
  principal: Principal | null;
  reason: ApiKeyFailure | null;
  /**
   * Key expiry on this replica's clock, re-checked on every hit so a cached key never outlives it: the
   * database says how long the key has left when it is read, and the clock counts that down.
   */
  expiresAt: number | null;
  cachedUntil: number;
}

/** A key revoked on another replica stops working within this time (the limit is 5 s). */
export const API_KEY_CACHE_TTL_MS = 2000;
const LAST_USED_INTERVAL_MS = 60_000;
const MAX_CACHE_ENTRIES = 10_000;
/** At most this many failure rows per client IP per minute; the rest are counted into the next row. */
const FAILURE_AUDITS_PER_MINUTE = 10;

/**
 * Authenticates X-API-Key values. The checksum is checked first (no database work for typos or random
 * strings); then one indexed lookup by HMAC — the stored value is a keyed hash, so comparing it leaks nothing
 * about the key and needs no constant-time loop; then a short in-memory cache keeps the hot path at one HMAC.
 */
@Injectable()
export class ApiKeyAuthService {
  private readonly logger = new Logger('ApiKeyAuth');
  private readonly cache = new LruCache<string, CachedLookup>({ maxEntries: MAX_CACHE_ENTRIES });
  /** Counts forget() calls: a lookup that was in flight across one may predate the revocation, so it is not kept. */
  private forgets = 0;
  private readonly lastUsedWrites = new LruCache<string, number>({ maxEntries: MAX_CACHE_ENTRIES });
  private readonly failureRows: AuditRowBudget;

  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly config: ApiKeysConfig,
    private readonly audit: AuditService,
    private readonly metrics: VcpMetrics,
    private readonly clock: Clock,
  ) {
    this.failureRows = new AuditRowBudget(FAILURE_AUDITS_PER_MINUTE, () => clock.nowMs(), MAX_CACHE_ENTRIES);
  }

  async authenticate(candidate: string): Promise<ApiKeyCheck> {
    if (!isWellFormedApiKey(candidate)) return { ok: false, reason: 'malformed' };
    const hash = keyedHash(candidate, this.config.pepper);
    const now = this.clock.nowMs();
    let entry = this.cache.get(hash);
    if (!entry || entry.cachedUntil <= now) {
      const forgets = this.forgets;
      entry = await this.lookup(hash, now);
      // Read before a revocation or rotation on this replica, answered after it: this request uses it, later
      // ones look again.
      if (forgets === this.forgets) {
        this.cache.set(hash, entry);
      }
    }
    const key = entry.keyId && entry.ownerId ? { keyId: entry.keyId, ownerId: entry.ownerId } : undefined;
    if (!entry.principal) return { ok: false, reason: entry.reason ?? 'unknown', key };
    if (entry.expiresAt !== null && entry.expiresAt <= now) return { ok: false, reason: 'expired', key };
    this.touch(entry.principal.keyId!, now);
    return { ok: true, principal: entry.principal };
  }

  /** Drops a key from this replica's cache at once (revocation, rotation). */
  forget(keyId: string): void {
    this.forgets += 1;
    for (const [hash, entry] of this.cache.entries()) if (entry.keyId === keyId) this.cache.delete(hash);
  }

  /** Audits a failed key authentication, rate-limited per client so a flood of bad keys cannot flood the table. */
  recordFailure(reason: ApiKeyFailure | 'query_string', meta: RequestMeta, key?: RefusedKey): void {
    this.metrics.authEvent('api_key_failure');
    // A value that fails the checksum is a typo or noise, refused without touching the database: it is logged,
    // not audited, so garbage cannot cost a write.
    if (reason === 'malformed') {
      this.logger.warn({ msg: 'malformed API key refused', request_id: meta.requestId, ip: meta.ip });
      return;
    }
    const suppressed = this.failureRows.take(meta.ip ?? 'unknown');
    if (suppressed === null) return;
    this.audit
      .record(
        {
          action: AuditAction.AuthApiKeyFailed,
          status: 'denied',
          errorMessage: reason,
          // A real key refused (revoked, expired, its owner disabled): which one, and whose, so an admin can
          // tell who still uses it.
          ...(key ? { userId: key.ownerId, resourceType: 'api_key', resourceId: key.keyId } : {}),
          metadata: suppressed ? { suppressed_since_last: suppressed } : undefined,
        },
        meta,
      )
      .catch((error: unknown) => this.logger.error(`could not audit an API key failure: ${String(error)}`));
  }

  private async lookup(hash: string, now: number): Promise<CachedLookup> {
    const key = await this.keys.findCredential(hash);
    const cachedUntil = now + API_KEY_CACHE_TTL_MS;
    const fail = (reason: ApiKeyFailure, found: { keyId: string; userId: string } | null): CachedLookup => ({
      keyId: found?.keyId ?? null,
      ownerId: found?.userId ?? null,
      principal: null,
      reason,
      expiresAt: null,
      cachedUntil,
    });
    if (!key) return fail('unknown', null);
    if (key.revoked) return fail('revoked', key);
    if (key.expiresInMs !== null && key.expiresInMs <= 0) return fail('expired', key);
    if (key.ownerDisabled) return fail('owner_disabled', key);
    // The key's scopes, but never more than the owner's role allows today. A node key is its node's agent and
    // nothing else, whatever its owner's role: it gets the agent scope only, and the node binding.
    const allowed = key.nodeId === null ? ROLE_SCOPES[key.role] : NODE_KEY_SCOPES;
    // Read with the rest of the key, so a rotation shows in the answers within the same window as a revocation.
    const keySunset = keySunsetOf(key.expiresAt, key.replacedBy);
    return {
      keyId: key.keyId,
      ownerId: key.userId,
      principal: {
        userId: key.userId,
        username: key.username,
        role: key.role,
        scopes: key.scopes.filter((scope) => allowed.includes(scope)),
        authMethod: 'api_key',
        keyId: key.keyId,
        rateLimitTier: key.rateLimitTier,
        ...(key.nodeId === null ? {} : { nodeId: key.nodeId }),
        ...(keySunset ? { keySunset } : {}),
      },
      reason: null,
      expiresAt: key.expiresInMs === null ? null : now + key.expiresInMs,
      cachedUntil,
    };
  }

  /** last_used_at at most once a minute per key, written after the response path (fire and forget). */
  private touch(keyId: string, now: number): void {
    const last = this.lastUsedWrites.get(keyId) ?? 0;
    if (now - last < LAST_USED_INTERVAL_MS) return;
    this.lastUsedWrites.set(keyId, now);
    setImmediate(() => {
      this.keys
        .touchLastUsed(keyId)
        .catch((error: unknown) => this.logger.warn(`last_used_at not updated: ${String(error)}`));
    });
  }
}
