import { FactoryProvider, Type } from '@nestjs/common';
import { ContentStore } from './content-store';
import { FsContentStore, FsContentStoreOptions } from './fs-content-store';

/**
 * The ContentStore of one namespace, for a feature module's `providers` (not exported: each module that
 * stores content provides its own namespace under the same token). Roots are created and canonicalised
 * before the app starts; if that fails, the app does not start. The options come from the feature's own
 * config class (`configToken`).
 */
export function provideContentStore<Config>(
  configToken: Type<Config>,
  options: (config: Config) => FsContentStoreOptions,
): FactoryProvider<ContentStore> {
  return {
    provide: ContentStore,
    inject: [configToken],
    useFactory: (config: Config) => FsContentStore.create(options(config)),
  };
}
