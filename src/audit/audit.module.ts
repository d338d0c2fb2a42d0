import { Module } from '@nestjs/common';
import { ClockModule } from '../common/clock/clock.module';
import { AccessDenialAudit } from './access-denials';
import { AuditLogRepository } from './audit-log.repository';
import { AuditQueryService } from './audit-query.service';
import { AuditService } from './audit.service';

@Module({
  imports: [ClockModule],
  providers: [AuditLogRepository, AuditService, AuditQueryService, AccessDenialAudit],
  exports: [AuditService, AuditQueryService, AccessDenialAudit],
})
export class AuditModule {}
