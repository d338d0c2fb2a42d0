import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AuthModule } from '../auth/auth.module';
import { UsersModule } from '../users/users.module';
import { AdminAuditController, AdminUsersController } from './admin.controller';
import { AdminBootstrapService } from './admin-bootstrap.service';
import { AdminUsersService } from './admin-users.service';

@Module({
  imports: [AuthModule, UsersModule, AuditModule],
  controllers: [AdminUsersController, AdminAuditController],
  providers: [AdminUsersService, AdminBootstrapService],
  exports: [AdminBootstrapService],
})
export class AdminModule {}
