import { Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AuditModule } from '../audit/audit.module';
import { ApiKeyAuthService } from './api-key-auth.service';
import { ApiKeyStrategy } from './api-key.strategy';
import { ApiKeysController, ApiKeyValidationController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';

@Module({
  imports: [PassportModule, AuditModule],
  controllers: [ApiKeysController, ApiKeyValidationController],
  providers: [ApiKeysService, ApiKeyAuthService, ApiKeyStrategy],
  exports: [ApiKeysService, ApiKeyAuthService],
})
export class ApiKeysModule {}
