import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { AdminAuditController, AdminUsersController } from './admin.controller';
import { AdminBootstrapService } from './admin-bootstrap.service';
import { AdminUsersService } from './admin-users.service';

@Module({
  imports: [AuthModule],
  controllers: [AdminUsersController, AdminAuditController],
  providers: [AdminUsersService, AdminBootstrapService],
  exports: [AdminBootstrapService],
})
export class AdminModule {}
