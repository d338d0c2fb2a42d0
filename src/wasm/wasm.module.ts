import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { provideContentStore } from '../storage/content-store.provider';
import { moduleContentOptions, ModuleStoreService } from './module-store.service';
import { ModulesController } from './modules.controller';
import { WasmRuntime } from './runtime';
import { V8Runtime } from './v8/v8.runtime';
import { WasmService, WASM_RUNTIMES_TOKEN } from './wasm.service';
import { SqlWasmModulesRepository, WasmModulesRepository } from './wasm-modules.repository';
import { WasmerRuntime } from './wasmer/wasmer.runtime';

/**
 * The WebAssembly engine: the module store (over its own ContentStore namespace), and WasmService with its two
 * runtimes, plus the `/modules` routes (thin wrappers over ModuleStoreService and WasmService).
 */
@Module({
  controllers: [ModulesController],
  providers: [
    provideContentStore(moduleContentOptions),
    { provide: WasmModulesRepository, useClass: SqlWasmModulesRepository },
    ModuleStoreService,
    {
      provide: WASM_RUNTIMES_TOKEN,
      inject: [AppConfig],
      useFactory: (config: AppConfig): WasmRuntime[] => [
        new V8Runtime({ poolSize: config.wasm.maxConcurrency }),
        new WasmerRuntime({ poolSize: config.wasm.maxConcurrency }),
      ],
    },
    WasmService,
  ],
  exports: [ModuleStoreService, WasmService],
})
export class WasmModule {}
