import { Module } from '@nestjs/common';
import { WasmModule } from '../wasm/wasm.module';
import { ProgramsController } from './programs.controller';
import { ProgramsService } from './programs.service';

/**
 * The built-in programs of `computation` tasks (issue 17): AssemblyScript sources in `programs/`, compiled by
 * the build, registered as system-owned modules at boot and resolved from task inputs at submission.
 */
@Module({
  imports: [WasmModule],
  controllers: [ProgramsController],
  providers: [ProgramsService],
  exports: [ProgramsService],
})
export class ProgramsModule {}
