import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { provideContentStore } from '../storage/content-store.provider';
import { ModuleChecker } from './module-checker';
import { moduleContentOptions, ModuleStoreService } from './module-store.service';
import { ModulesController } from './modules.controller';
import { ModuleOwnershipService } from './module-ownership.service';
import { ModuleOwnersRepository } from './module-owners.repository';
import { ModuleSweeper } from './module-sweeper';
import { WasmRuntime } from './runtime';
import { V8Runtime } from './v8/v8.runtime';
import { WasmConfig } from './wasm.config';
import { WasmService, WASM_RUNTIMES_TOKEN } from './wasm.service';
import { SqlWasmModulesRepository, WasmModulesRepository } from './wasm-modules.repository';
import { WasmerRuntime } from './wasmer/wasmer.runtime';

/**
 * The WebAssembly engine: the module store (over its own ContentStore namespace), and WasmService with its two
 * runtimes, plus the `/modules` routes (thin wrappers over ModuleStoreService and WasmService).
 */
@Module({
  imports: [AuditModule],
  controllers: [ModulesController],
  providers: [
    provideContentStore(WasmConfig, moduleContentOptions),
    { provide: WasmModulesRepository, useClass: SqlWasmModulesRepository },
    ModuleChecker,
    ModuleStoreService,
    ModuleOwnersRepository,
    ModuleOwnershipService,
    ModuleSweeper,
    {
      provide: WASM_RUNTIMES_TOKEN,
      inject: [WasmConfig],
      useFactory: (config: WasmConfig): WasmRuntime[] => [
        new V8Runtime({ poolSize: config.maxConcurrency, cacheBytes: config.moduleCacheBytes }),
        new WasmerRuntime({ poolSize: config.maxConcurrency, cacheBytes: config.moduleCacheBytes }),
      ],
    },
    WasmService,
  ],
  exports: [ModuleStoreService, ModuleOwnershipService, WasmService],
})
export class WasmModule {}
