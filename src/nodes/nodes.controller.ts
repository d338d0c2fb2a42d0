import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Put, Query } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { NodeAgent } from '../common/auth/node-agent.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import { Scope } from '../common/auth/scopes';
import { PageQueryDto } from '../common/pagination/page.dto';
import { ClusterStatsService } from './cluster-stats.service';
import { NODE_KEY_PAGE_EXAMPLE, NodeKeyPageDto } from './dto/node-keys.dto';
import {
  HeartbeatDto,
  HeartbeatHistoryQueryDto,
  ListNodesQueryDto,
  RotateNodeKeyDto,
} from './dto/node-requests.dto';
import {
  ClusterStatsDto,
  HeartbeatPageDto,
  HeartbeatResponseDto,
  NodeInfoDto,
  NodeKeyDto,
  NodeMessageDto,
  NodePageDto,
  RegisteredNodeDto,
} from './dto/node-responses.dto';
import { RegisterNodeDto } from './dto/register-node.dto';
import { HeartbeatService } from './heartbeat.service';
import { NodesService } from './nodes.service';

const NOT_FOUND = 'No such node, or not yours (`not_found`)';

@ApiTags('nodes')
@Controller('nodes')
export class NodesController {
  constructor(
    private readonly nodes: NodesService,
    private readonly heartbeats: HeartbeatService,
  ) {}

  @Post()
  @Authenticated({ scopes: [Scope.NodesWrite] })
  @RateLimitTier('node')
  @ApiCreatedResponse({
    type: RegisteredNodeDto,
    description: 'The node key is in `node_api_key`, shown once',
  })
  @ApiConflictResponse({
    description:
      'The node_id belongs to a live node (`conflict`), or you own NODE_MAX_PER_USER nodes already ' +
      '(`reason: node_limit`): delete one first',
  })
  register(
    @Body() dto: RegisterNodeDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<RegisteredNodeDto> {
    return this.nodes.register(principal, dto, meta);
  }

  @Get()
  @Authenticated({ scopes: [Scope.NodesRead] })
  @ApiOkResponse({ type: NodePageDto, description: 'The caller’s nodes (admins: `?all=true`), newest first' })
  list(@Query() query: ListNodesQueryDto, @CurrentPrincipal() principal: Principal): Promise<NodePageDto> {
    return this.nodes.list(principal, query);
  }

  @Get(':node_id')
  @Authenticated({ scopes: [Scope.NodesRead] })
  @ApiOkResponse({ type: NodeInfoDto, description: 'The node (its owner’s, or any to an admin)' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  get(@Param('node_id') nodeId: string, @CurrentPrincipal() principal: Principal): Promise<NodeInfoDto> {
    return this.nodes.get(principal, nodeId);
  }

  @Delete(':node_id')
  @Authenticated({ scopes: [Scope.NodesWrite] })
  @ApiOkResponse({ type: NodeMessageDto, description: 'Soft-deleted; its node keys are revoked' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  delete(
    @Param('node_id') nodeId: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<NodeMessageDto> {
    return this.nodes.delete(principal, nodeId, meta);
  }

  @Post(':node_id/reject')
  @HttpCode(HttpStatus.OK)
  @Authenticated({ scopes: [Scope.NodesWrite] })
  @ApiOkResponse({ type: NodeInfoDto, description: 'Status `rejected`; its node keys are revoked' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  @ApiConflictResponse({ description: 'The node is rejected already (`conflict`)' })
  reject(
    @Param('node_id') nodeId: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<NodeInfoDto> {
    return this.nodes.reject(principal, nodeId, meta);
  }

  @Post(':node_id/reinstate')
  @HttpCode(HttpStatus.OK)
  @Authenticated({ roles: ['admin'], scopes: [Scope.NodesWrite] })
  @ApiOkResponse({ type: NodeInfoDto, description: 'Offline until the owner issues a key and it heartbeats' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  @ApiConflictResponse({ description: 'The node is not rejected (`conflict`)' })
  reinstate(
    @Param('node_id') nodeId: string,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<NodeInfoDto> {
    return this.nodes.reinstate(principal, nodeId, meta);
  }

  @Post(':node_id/keys')
  @Authenticated({ scopes: [Scope.NodesWrite] })
  @ApiCreatedResponse({ type: NodeKeyDto, description: 'The new node key, shown once' })
  @ApiNotFoundResponse({ description: 'No such node of yours (`not_found`)' })
  @ApiConflictResponse({
    description: 'The node is rejected: no key until an admin reinstates it (`conflict`)',
  })
  @ApiBody({ type: RotateNodeKeyDto, required: false })
  rotateKey(
    @Param('node_id') nodeId: string,
    @Body() dto: RotateNodeKeyDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<NodeKeyDto> {
    return this.nodes.rotateKey(principal, nodeId, dto.grace_seconds ?? 0, meta);
  }

  // Not @NodeAgent: a node key may not read its node (GET /nodes/:node_id is 403 to it), nor its key list.
  @Get(':node_id/keys')
  @Authenticated({ scopes: [Scope.NodesRead] })
  @ApiOkResponse({
    type: NodeKeyPageDto,
    description:
      'The node’s keys, newest first, never the key or its hash. Revoked and expired keys stay listed ' +
      '(`active: false`); a key in a rotation’s grace period is active until `expires_at`',
    example: NODE_KEY_PAGE_EXAMPLE,
  })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  listKeys(
    @Param('node_id') nodeId: string,
    @Query() query: PageQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<NodeKeyPageDto> {
    return this.nodes.listKeys(principal, nodeId, query);
  }

  @Put(':node_id/heartbeat')
  @Authenticated({ scopes: [Scope.NodesWrite] })
  @NodeAgent({ nodeParam: 'node_id', users: true })
  @RateLimitTier('agent')
  @ApiOkResponse({
    type: HeartbeatResponseDto,
    description:
      'Recorded (by the node’s key, or its owner with `nodes:write`): the next beat’s interval and, for the `runs` named, which leases were renewed, lost or cancelled',
  })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  @ApiConflictResponse({ description: 'The node is rejected (`conflict`)' })
  @ApiBody({ type: HeartbeatDto, required: false })
  heartbeat(
    @Param('node_id') nodeId: string,
    @Body() dto: HeartbeatDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<HeartbeatResponseDto> {
    return this.heartbeats.heartbeat(principal, nodeId, dto ?? {});
  }

  @Get(':node_id/heartbeats')
  @Authenticated({ scopes: [Scope.NodesRead] })
  @ApiOkResponse({ type: HeartbeatPageDto, description: 'One row per node per NODE_HISTORY_INTERVAL_SECS' })
  @ApiNotFoundResponse({ description: NOT_FOUND })
  history(
    @Param('node_id') nodeId: string,
    @Query() query: HeartbeatHistoryQueryDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<HeartbeatPageDto> {
    return this.heartbeats.history(principal, nodeId, query);
  }
}

@ApiTags('nodes')
@Controller('cluster')
export class ClusterController {
  constructor(private readonly stats: ClusterStatsService) {}

  @Get('stats')
  @Authenticated({ scopes: [Scope.NodesRead] })
  @ApiOkResponse({ type: ClusterStatsDto, description: 'Cached for at most 2 s' })
  clusterStats(): Promise<ClusterStatsDto> {
    return this.stats.stats();
  }
}
