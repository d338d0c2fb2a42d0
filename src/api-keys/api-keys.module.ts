import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AuditModule } from '../audit/audit.module';
import { ClockModule } from '../common/clock/clock.module';
import { UsersModule } from '../users/users.module';
import { ApiKeyAuthService } from './api-key-auth.service';
import { ApiKeyStrategy } from './api-key.strategy';
import { ApiKeysController, ApiKeyValidationController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { NodeKeysService } from './node-keys.service';

@Module({
  imports: [PassportModule, AuditModule, UsersModule, ClockModule],
  controllers: [ApiKeysController, ApiKeyValidationController],
  providers: [ApiKeysRepository, ApiKeysService, NodeKeysService, ApiKeyAuthService, ApiKeyStrategy],
  exports: [ApiKeysService, ApiKeyAuthService, NodeKeysService],
})
export class ApiKeysModule {}
