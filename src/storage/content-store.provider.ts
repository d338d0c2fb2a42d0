import { FactoryProvider } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { ContentStore } from './content-store';
import { FsContentStore, FsContentStoreOptions } from './fs-content-store';

/**
 * The ContentStore of one namespace, for a feature module's `providers` (not exported: each module that
 * stores content provides its own namespace under the same token). Roots are created and canonicalised
 * before the app starts; if that fails, the app does not start.
 */
export function provideContentStore(
  options: (config: AppConfig) => FsContentStoreOptions,
): FactoryProvider<ContentStore> {
  return {
    provide: ContentStore,
    inject: [AppConfig],
    useFactory: (config: AppConfig) => FsContentStore.create(options(config)),
  };
}
