import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import { AuditQueryService } from '../audit/audit-query.service';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { PageQueryDto } from '../common/pagination/page.dto';
import { ParseUuidPipe } from '../common/validation/parse-id.pipe';
import { AdminUsersService } from './admin-users.service';
import { AuditPageDto, AuditQueryDto } from '../audit/dto/audit-log.dto';
import { AdminUserDto, AdminUserPageDto, CreateUserDto, UpdateUserDto } from './dto/admin.dto';

@ApiTags('admin')
@Controller('admin/users')
@Authenticated({ roles: ['admin'], scopes: [Scope.AdminUsers] })
export class AdminUsersController {
  constructor(private readonly adminUsers: AdminUsersService) {}

  @Get()
  @ApiOkResponse({ type: AdminUserPageDto, description: 'Every user, oldest first (`limit`, `cursor`)' })
  list(
    @Query() query: PageQueryDto,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<AdminUserPageDto> {
    return this.adminUsers.list(actor, query, meta);
  }

  @Post()
  @ApiCreatedResponse({
    type: AdminUserDto,
    description:
      'The new account; it logs in with the password given (with REGISTRATION=closed, the only way in)',
  })
  @ApiConflictResponse({ description: 'The username (or email) is taken (`conflict`)' })
  @ApiUnprocessableEntityResponse({
    description: 'Invalid username, password, email or role (`validation_error`), as at registration',
  })
  create(
    @Body() dto: CreateUserDto,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<AdminUserDto> {
    return this.adminUsers.create(actor, dto, meta);
  }

  @Patch(':id')
  @ApiOkResponse({ type: AdminUserDto, description: 'The user as changed' })
  @ApiNotFoundResponse({ description: 'No such user (`not_found`)' })
  @ApiConflictResponse({ description: 'It would leave no active admin (`conflict`, `reason: last_admin`)' })
  @ApiForbiddenResponse({ description: 'A built-in system account (`forbidden`), or not an admin' })
  update(
    @Param('id', new ParseUuidPipe('User not found')) userId: string,
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
  @ApiOkResponse({
    type: AuditPageDto,
    description: 'Audit rows matching every filter given, newest first (this read is itself audited)',
  })
  async list(
    @Query() query: AuditQueryDto,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<AuditPageDto> {
    const page = await this.auditLog.page(
      {
        action: query.action,
        userId: query.user_id,
        resourceType: query.resource_type,
        resourceId: query.resource_id,
        from: query.from,
        to: query.to,
      },
      query,
    );
    await this.audit.record(
      {
        action: AuditAction.AdminAuditViewed,
        status: 'success',
        userId: actor.userId,
        metadata: { filters: { ...query } },
      },
      meta,
    );
    return page;
  }
}
