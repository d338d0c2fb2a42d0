import { DynamicModule, Global, Module, ValueProvider } from '@nestjs/common';
import { CoreConfig } from '../common/config/core.config';
import { RunLeaseSettings } from '../common/runs/run-lease';
import { AppConfig, FEATURE_CONFIGS, FEATURE_KEYS } from './app-config';

/**
 * Provides the config built at boot (or by a test) to every module, each part under its own class: a feature
 * injects `WasmConfig`, `AuthConfig`, …, or the `CoreConfig` every feature may use, never the whole AppConfig.
 */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: ValueProvider[] = [
      { provide: CoreConfig, useValue: config.core },
      { provide: RunLeaseSettings, useValue: config.scheduling },
      ...FEATURE_KEYS.map((key) => ({ provide: FEATURE_CONFIGS[key].token, useValue: config[key] })),
    ];
    return { module: ConfigModule, providers, exports: providers.map((provider) => provider.provide) };
  }
}
