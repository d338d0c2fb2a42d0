import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ModuleStoreService } from '../wasm/module-store.service';
import { PROGRAMS, programNamed } from './program-catalog';
import { readProgram } from './program-files';
import { resolveComputation } from './program-inputs';

/** What a `computation` task runs: a built-in program's module and the inputs it reads on stdin. */
export interface ComputationPlan {
  moduleId: string;
  inputs: Record<string, unknown>;
}

/**
 * The built-in programs: registered in the module store at boot (bytes checked against the catalog's
 * pinned hashes first), listed for clients, and resolved from a `computation` task's inputs at submission.
 */
@Injectable()
export class ProgramsService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Programs');

  constructor(private readonly modules: ModuleStoreService) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const program of PROGRAMS) {
      await this.modules.registerBuiltIn(await readProgram(program));
    }
    this.logger.log(`built-in programs registered: ${PROGRAMS.map((p) => p.name).join(', ')}`);
  }

  list() {
    return PROGRAMS;
  }

  /** The program and inputs of a `computation` task, or a 422 naming the field. */
  plan(inputs: unknown): ComputationPlan {
    const resolved = resolveComputation(inputs);
    if ('field' in resolved) throw AppException.invalidField(resolved.field, resolved.message);
    return { moduleId: programNamed(resolved.program)!.sha256, inputs: resolved.inputs };
  }
}
