import { AuditAction } from '../audit/audit-actions';
import { Injectable } from '@nestjs/common';
import { NodeKeysService } from '../api-keys/node-keys.service';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { jsonSha256Hex } from '../common/crypto/json-hash';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { decodeCursor, encodeCursor } from '../common/pagination/cursor';
import { pageRequest, toPage } from '../common/pagination/page';
import type { PageQueryDto } from '../common/pagination/page.dto';
import { TransactionRunner } from '../database/transaction-runner';
import { NodeKeyPageDto, toNodeKeyInfoDto } from './dto/node-keys.dto';
import type { ListNodesQueryDto } from './dto/node-requests.dto';
import type {
  NodeInfoDto,
  NodeKeyDto,
  NodeMessageDto,
  NodePageDto,
  RegisteredNodeDto,
} from './dto/node-responses.dto';
import { NODE_ID_PATTERN, RegisterNodeDto } from './dto/register-node.dto';
import { NEUTRAL_SCORE } from './health-score';
import { NodeLoss } from './node-loss';
import { NodeRecord, NodesRepository } from './nodes.repository';
import { NodesConfig } from './nodes.config';
import { normalizeEd25519PublicKey, WEAK_PUBLIC_KEY } from './public-key';
import { reputationScore } from './reputation';
import { UsersRepository } from '../users/users.repository';

const DEFAULT_PAGE = 50;

/** NodeInfo as the original shaped it; another user's owner_id is never shown to a non-admin. */
export function toNodeInfo(node: NodeRecord, viewer: Principal): NodeInfoDto {
  const showOwner = viewer.role === 'admin' || node.ownerId === viewer.userId;
  return {
    node_id: node.nodeId,
    owner_id: showOwner ? node.ownerId : null,
    region: node.region,
    node_type: node.nodeType,
    capabilities: {
      bandwidth_mbps: node.bandwidthMbps,
      cpu_cores: node.cpuCores,
      memory_gb: node.memoryGb,
      gpu_available: node.gpuAvailable,
    },
    health_score: node.healthScore,
    status: node.status,
    registered_at: node.registeredAt.toISOString(),
    last_seen: node.lastSeen.toISOString(),
    last_heartbeat: node.lastHeartbeat?.toISOString() ?? null,
    public_key: node.publicKey,
    labels: node.labels,
    reputation: {
      valid: node.record.runsValid,
      invalid: node.record.runsInvalid,
      error: node.record.runsError,
      lost: node.record.runsLost,
      valid_streak: node.record.validStreak,
      score: reputationScore(node.record.runsValid, node.record.runsInvalid),
      quarantined: node.record.quarantinedAt !== null,
      quarantined_at: node.record.quarantinedAt?.toISOString() ?? null,
      quarantine_reason: node.record.quarantineReason,
    },
  };
}

/** The registration the node has: same place, type, capabilities, labels and public key. */
function sameRegistration(node: NodeRecord, dto: RegisterNodeDto, publicKey: string): boolean {
  const c = dto.capabilities;
  return (
    node.publicKey === publicKey &&
    node.region === dto.region &&
    node.nodeType === dto.node_type &&
    node.bandwidthMbps === c.bandwidth_mbps &&
    node.cpuCores === c.cpu_cores &&
    node.memoryGb === c.memory_gb &&
    node.gpuAvailable === c.gpu_available &&
    jsonSha256Hex(node.labels) === jsonSha256Hex(dto.labels ?? {})
  );
}

/** Registration, reads and the owner's (or an admin's) management of nodes and their keys. */
@Injectable()
export class NodesService {
  constructor(
    private readonly config: NodesConfig,
    private readonly nodes: NodesRepository,
    private readonly nodeKeys: NodeKeysService,
    private readonly audit: AuditService,
    private readonly tx: TransactionRunner,
    private readonly nodeLoss: NodeLoss,
    private readonly users: UsersRepository,
  ) {}

  async register(principal: Principal, dto: RegisterNodeDto, meta: RequestMeta): Promise<RegisteredNodeDto> {
    const given = dto.public_key === undefined ? null : normalizeEd25519PublicKey(dto.public_key);
    const publicKey = typeof given === 'string' ? given : null;
    if (dto.public_key !== undefined && publicKey === null) {
      const message =
        given === WEAK_PUBLIC_KEY
          ? 'public_key is a point of small order (or not canonical): signatures by it would prove nothing'
          : 'public_key must be an Ed25519 key: base64 of its 32 raw bytes, or an SPKI PEM';
      throw AppException.validation([{ field: 'public_key', message }]);
    }
    const { node, key, revoked } = await this.tx.run(async () => {
      await this.assertRoomForAnotherNode(principal.userId, dto.node_id);
      const node = await this.nodes.register({
        nodeId: dto.node_id,
        ownerId: principal.userId,
        region: dto.region,
        nodeType: dto.node_type,
        bandwidthMbps: dto.capabilities.bandwidth_mbps,
        cpuCores: dto.capabilities.cpu_cores,
        memoryGb: dto.capabilities.memory_gb,
        gpuAvailable: dto.capabilities.gpu_available,
        healthScore: NEUTRAL_SCORE,
        publicKey,
        labels: dto.labels ?? {},
      });
      if (!node) {
        const replayed =
          publicKey === null ? null : await this.repeatedRegistration(principal, dto, publicKey, meta);
        if (replayed) return replayed;
        throw new AppException(ErrorCode.Conflict, `Node id ${dto.node_id} is already registered`);
      }
      // A revived node starts with a fresh credential: whatever keys it had were revoked when it was deleted.
      const key = await this.nodeKeys.issue(principal.userId, node.nodeId);
      await this.audit.record(
        {
          action: 'node.registered',
          status: 'success',
          userId: principal.userId,
          resourceType: 'node',
          resourceId: node.nodeId,
          metadata: { node_type: node.nodeType, region: node.region, key_id: key.keyId },
        },
        meta,
      );
      return { node, key, revoked: [] as string[] };
    });
    this.nodeKeys.forget(revoked);
    return { ...toNodeInfo(node, principal), node_api_key: key.apiKey };
  }

  /**
   * NODE_MAX_PER_USER, checked under the owner's lock. A repeat of a registration of one of the owner's nodes
   * adds none, so it goes on to its own answer (a replay, or 409 `conflict` for an id in use).
   */
  private async assertRoomForAnotherNode(ownerId: string, nodeId: string): Promise<void> {
    const max = this.config.maxPerUser;
    // The owner's row, locked for the transaction: concurrent registrations cannot both pass the limit.
    await this.users.findByIdForUpdate(ownerId);
    if ((await this.nodes.countOwned(ownerId, max)) < max) return;
    if (await this.nodes.findLive(nodeId, ownerId)) return;
    throw new AppException(
      ErrorCode.Conflict,
      `You own ${max} nodes, the most one user may register: delete one you no longer use first`,
      { reason: ErrorReason.NodeLimit },
    );
  }

  /**
   * A repeat of the owner's registration whose answer was lost (the agent retried, or was restarted with its
   * key pair): the same body, this agent's public key included, for a node whose keys nobody has used yet.
   * It answers like the first, with a fresh key; the unseen key is revoked so that the caller holds the only
   * one. No privilege is gained: the owner may rotate the node's key anyway (POST …/keys). A node in use keeps
   * its key and the repeat stays a 409.
   */
  private async repeatedRegistration(
    principal: Principal,
    dto: RegisterNodeDto,
    publicKey: string,
    meta: RequestMeta,
  ) {
    const node = await this.nodes.findLive(dto.node_id, principal.userId, true);
    if (!node || node.status === 'rejected' || !sameRegistration(node, dto, publicKey)) return null;
    if (!(await this.nodeKeys.keysUnused(node.nodeId))) return null;
    const rotation = await this.nodeKeys.rotate(principal.userId, node.nodeId, 0);
    await this.audit.record(
      this.event('node.key_rotated', principal, node, {
        new_key_id: rotation.issued.keyId,
        previous_key_ids: rotation.previousKeyIds,
        grace_seconds: 0,
        cause: 'registration_repeated',
      }),
      meta,
    );
    return { node, key: rotation.issued, revoked: rotation.previousKeyIds };
  }

  async list(principal: Principal, query: ListNodesQueryDto): Promise<NodePageDto> {
    if (query.all && principal.role !== 'admin') {
      throw new AppException(ErrorCode.Forbidden, 'Only admins can list every user’s nodes');
    }
    const limit = query.limit ?? DEFAULT_PAGE;
    const after = decodeCursor(query.cursor, NODE_ID_PATTERN);
    const rows = await this.nodes.list(
      {
        ownerId: query.all ? null : principal.userId,
        status: query.status,
        nodeType: query.node_type,
        region: query.region,
      },
      after,
      limit + 1,
    );
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return {
      items: items.map((node) => toNodeInfo(node, principal)),
      next_cursor:
        rows.length > limit && last
          ? encodeCursor({ t: last.registeredAt.toISOString(), id: last.nodeId })
          : null,
    };
  }

  async get(principal: Principal, nodeId: string): Promise<NodeInfoDto> {
    return toNodeInfo(await this.visible(principal, nodeId), principal);
  }

  async delete(principal: Principal, nodeId: string, meta: RequestMeta): Promise<NodeMessageDto> {
    const { revoked, released } = await this.tx.run(async () => {
      const node = await this.visible(principal, nodeId, true);
      await this.nodes.softDelete(node.nodeId);
      const keyIds = await this.nodeKeys.revokeAll(node.nodeId, 'node_deleted');
      await this.audit.record(
        this.event('node.deleted', principal, node, { revoked_keys: keyIds.length }),
        meta,
      );
      return { revoked: keyIds, released: await this.nodeLoss.release([node.nodeId], 'node_deleted') };
    });
    this.nodeKeys.forget(revoked);
    released();
    return { message: 'Node deleted successfully', node_id: nodeId };
  }

  /** The original's "eject": the node stops being scheduled and its keys stop working. */
  async reject(principal: Principal, nodeId: string, meta: RequestMeta): Promise<NodeInfoDto> {
    const { node, revoked, released } = await this.tx.run(async () => {
      const node = await this.visible(principal, nodeId, true);
      if (!(await this.nodes.reject(node.nodeId))) {
        throw new AppException(ErrorCode.Conflict, 'The node is already rejected');
      }
      const revoked = await this.nodeKeys.revokeAll(node.nodeId, 'node_rejected');
      await this.audit.record(
        this.event('node.rejected', principal, node, { revoked_keys: revoked.length }),
        meta,
      );
      const released = await this.nodeLoss.release([node.nodeId], 'node_rejected');
      return { node: (await this.nodes.findLive(node.nodeId, null))!, revoked, released };
    });
    this.nodeKeys.forget(revoked);
    released();
    return toNodeInfo(node, principal);
  }

  /** Admins lift a rejection; the node is offline until its owner issues a key and the agent heartbeats. */
  async reinstate(principal: Principal, nodeId: string, meta: RequestMeta): Promise<NodeInfoDto> {
    const node = await this.tx.run(async () => {
      const node = await this.visible(principal, nodeId, true);
      if (!(await this.nodes.reinstate(node.nodeId))) {
        throw new AppException(ErrorCode.Conflict, 'Only a rejected or quarantined node can be reinstated');
      }
      // A node can be both rejected and quarantined: the statement lifts both, and each lift is its own row.
      if (node.status === 'rejected')
        await this.audit.record(this.event('node.reinstated', principal, node), meta);
      if (node.record.quarantinedAt !== null)
        await this.audit.record(this.event('node.quarantine_lifted', principal, node), meta);
      return (await this.nodes.findLive(node.nodeId, null))!;
    });
    return toNodeInfo(node, principal);
  }

  /** A new node key; the old ones stop at once or after `graceSeconds`. Owner only. */
  async rotateKey(
    principal: Principal,
    nodeId: string,
    graceSeconds: number,
    meta: RequestMeta,
  ): Promise<NodeKeyDto> {
    const { rotation, node } = await this.tx.run(async () => {
      const node = await this.nodes.findLive(nodeId, principal.userId, true);
      if (!node) throw AppException.notFound('Node not found');
      if (node.status === 'rejected') {
        throw new AppException(
          ErrorCode.Conflict,
          'A rejected node gets no key until an admin reinstates it',
        );
      }
      const rotation = await this.nodeKeys.rotate(principal.userId, node.nodeId, graceSeconds);
      await this.audit.record(
        this.event('node.key_rotated', principal, node, {
          new_key_id: rotation.issued.keyId,
          previous_key_ids: rotation.previousKeyIds,
          grace_seconds: graceSeconds,
        }),
        meta,
      );
      return { rotation, node };
    });
    this.nodeKeys.forget(rotation.previousKeyIds);
    return {
      node_id: node.nodeId,
      key_id: rotation.issued.keyId,
      key_prefix: rotation.issued.keyPrefix,
      node_api_key: rotation.issued.apiKey,
      created_at: rotation.issued.createdAt.toISOString(),
      previous_key_expires_at: rotation.previousExpiresAt?.toISOString() ?? null,
    };
  }

  /** The node's keys, newest first, with their history (revoked and expired ones are `active: false`). */
  async listKeys(principal: Principal, nodeId: string, query: PageQueryDto): Promise<NodeKeyPageDto> {
    const request = pageRequest(query);
    const node = await this.visible(principal, nodeId);
    const rows = await this.nodeKeys.list(node.nodeId, request);
    return toPage(
      rows,
      request,
      (key) => ({ t: key.createdAt.toISOString(), id: key.keyId }),
      toNodeKeyInfoDto,
    );
  }

  /** The node if the caller owns it or is an admin; otherwise the same 404 as a node that does not exist. */
  async visible(principal: Principal, nodeId: string, forUpdate = false): Promise<NodeRecord> {
    const node = await this.nodes.findLive(
      nodeId,
      principal.role === 'admin' ? null : principal.userId,
      forUpdate,
    );
    if (!node) throw AppException.notFound('Node not found');
    return node;
  }

  private event(
    action: AuditAction,
    principal: Principal,
    node: NodeRecord,
    metadata?: Record<string, unknown>,
  ) {
    return {
      action,
      status: 'success' as const,
      userId: principal.userId,
      resourceType: 'node',
      resourceId: node.nodeId,
      metadata: { ...metadata, owner_id: node.ownerId },
    };
  }
}
