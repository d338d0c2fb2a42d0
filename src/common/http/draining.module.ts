import { Global, Module } from '@nestjs/common';
import { ConnectionDraining } from './connection-draining';

/** One draining state for the whole app: the HTTP hooks answer from it, long work watches its cutoff. */
@Global()
@Module({ providers: [ConnectionDraining], exports: [ConnectionDraining] })
export class DrainingModule {}
