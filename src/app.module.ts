import { DynamicModule, Module, Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import type { DestinationStream } from 'pino';
import { DrainingModule } from './common/http/draining.module';
import { AllExceptionsFilter } from './common/filters/all-exceptions.filter';
import { createValidationPipe } from './common/validation/validation.pipe';
import { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { AdminModule } from './admin/admin.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CredentialCheckModule } from './auth/credential-recheck';
import { EarlyAuthentication } from './auth/early-authentication.hook';
import { AuthenticationGuard } from './auth/guards/authentication.guard';
import { AuthorizationGuard } from './auth/guards/authorization.guard';
import { HealthModule } from './health/health.module';
import { LoggingModule } from './logging/logging.module';
import { MetricsModule } from './metrics/metrics.module';
import { TasksModule } from './tasks/tasks.module';
import { SchedulingModule } from './scheduling/scheduling.module';
import { NodesModule } from './nodes/nodes.module';
import { ProofsModule } from './proofs/proofs.module';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { UnknownInputGuard } from './common/http/unknown-input.guard';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { UsersModule } from './users/users.module';
import { WasmModule } from './wasm/wasm.module';
import { EmbeddedNodeModule } from './embedded-node/embedded-node.module';
import { ReceiptsModule } from './receipts/receipts.module';
import { RetentionModule } from './retention/retention.module';

export interface AppModuleOptions {
  /** Where JSON logs go (stdout by default); tests pass a stream to read them. */
  logDestination?: DestinationStream;
  /** Modules added beside the app's own (benches and tests mount probe routes this way). */
  extraModules?: Type[];
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, options: AppModuleOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(options.logDestination),
        DrainingModule,
        DatabaseModule,
        MetricsModule.forRoot(),
        HealthModule,
        UsersModule,
        AuditModule,
        AuthModule,
        CredentialCheckModule,
        AdminModule,
        ProofsModule,
        WasmModule,
        NodesModule,
        TasksModule,
        SchedulingModule,
        ReceiptsModule,
        EmbeddedNodeModule,
        RateLimitModule,
        RetentionModule,
        ...(options.extraModules ?? []),
      ],
      providers: [
        // The global guards, in the order they run: who is calling, may they, how often, and does the query hold
        // only what the route takes.
        { provide: APP_GUARD, useClass: AuthenticationGuard },
        { provide: APP_GUARD, useClass: AuthorizationGuard },
        { provide: APP_GUARD, useExisting: RateLimitGuard },
        { provide: APP_GUARD, useClass: UnknownInputGuard },
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        // The same two guards, run in onRequest for routes with large bodies (see the class).
        EarlyAuthentication,
      ],
    };
  }
}
