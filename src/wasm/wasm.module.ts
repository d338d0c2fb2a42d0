import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ModulePaths, resolveAllowedRoots } from './module-paths';
import { ModuleStoreService } from './module-store.service';
import { ModulesController } from './modules.controller';
import { WasmRuntime } from './runtime';
import { V8Runtime } from './v8/v8.runtime';
import { WasmService, WASM_RUNTIMES_TOKEN } from './wasm.service';
import { SqlWasmModulesRepository, WasmModulesRepository } from './wasm-modules.repository';
import { WasmerRuntime } from './wasmer/wasmer.runtime';

/**
 * The WebAssembly engine: content-addressed module store, path containment, and WasmService with its two
 * runtimes, plus the `/modules` routes (thin wrappers over ModuleStoreService and WasmService).
 */
@Module({
  controllers: [ModulesController],
  providers: [
    {
      provide: ModulePaths,
      inject: [AppConfig],
      // Roots are created and canonicalised before the app starts; if that fails, the app does not start.
      useFactory: async (config: AppConfig) =>
        new ModulePaths(await resolveAllowedRoots(config.wasmAllowedRoots)),
    },
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
