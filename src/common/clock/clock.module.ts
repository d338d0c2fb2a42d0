import { Module } from '@nestjs/common';
import { Clock, SystemClock } from './clock';

/** Provides the Clock to the modules that import it; tests replace it through `overrideProvider(Clock)`. */
@Module({ providers: [{ provide: Clock, useClass: SystemClock }], exports: [Clock] })
export class ClockModule {}
