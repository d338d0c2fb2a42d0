import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AuditService } from '../audit/audit.service';
import { AuditQueryService } from '../audit/audit-query.service';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { PageQueryDto } from '../common/pagination/cursor';
import { AdminUsersService } from './admin-users.service';
import { AdminUserDto, AdminUserPageDto, AuditPageDto, AuditQueryDto, UpdateUserDto } from './dto/admin.dto';

@ApiTags('admin')
@Controller('admin/users')
@Authenticated({ roles: ['admin'], scopes: [Scope.AdminUsers] })
export class AdminUsersController {
  constructor(private readonly adminUsers: AdminUsersService) {}

  @Get()
  @ApiOkResponse({ type: AdminUserPageDto })
  list(
    @Query() query: PageQueryDto,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<AdminUserPageDto> {
    return this.adminUsers.list(actor, query.limit ?? 50, query.cursor, meta);
  }

  @Patch(':id')
  @ApiOkResponse({ type: AdminUserDto })
  @ApiNotFoundResponse({ description: 'No such user (`not_found`)' })
  update(
    @Param('id') userId: string,
    @Body() dto: UpdateUserDto,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<AdminUserDto> {
    return this.adminUsers.update(actor, userId, dto, meta);
  }
}

@ApiTags('admin')
@Controller('admin/audit-log')
@Authenticated({ roles: ['admin'], scopes: [Scope.AdminAudit] })
export class AdminAuditController {
  constructor(
    private readonly auditLog: AuditQueryService,
    private readonly audit: AuditService,
  ) {}

  @Get()
  @ApiOkResponse({ type: AuditPageDto })
  async list(
    @Query() query: AuditQueryDto,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<AuditPageDto> {
    const page = await this.auditLog.page(
      { action: query.action, userId: query.user_id, from: query.from, to: query.to },
      query.limit ?? 50,
      query.cursor,
    );
    await this.audit.record(
      {
        action: 'admin.audit_viewed',
        status: 'success',
        userId: actor.userId,
        metadata: { filters: { ...query } },
      },
      meta,
    );
    return {
      items: page.items.map((row) => ({
        log_id: row.logId,
        user_id: row.userId,
        action: row.action,
        resource_type: row.resourceType,
        resource_id: row.resourceId,
        ip_address: row.ipAddress,
        user_agent: row.userAgent,
        request_id: row.requestId,
        status: row.status,
        error_message: row.errorMessage,
        metadata: row.metadata,
        created_at: row.createdAt.toISOString(),
      })),
      next_cursor: page.nextCursor,
    };
  }
}
