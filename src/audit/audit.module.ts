import { Module } from '@nestjs/common';
import { AuditLogRepository } from './audit-log.repository';
import { AuditQueryService } from './audit-query.service';
import { AuditService } from './audit.service';

@Module({
  providers: [AuditLogRepository, AuditService, AuditQueryService],
  exports: [AuditService, AuditQueryService],
})
export class AuditModule {}
