import { Module } from '@nestjs/common';
import { NodesModule } from '../nodes/nodes.module';
import { ProofsModule } from '../proofs/proofs.module';
import { SchedulingModule } from '../scheduling/scheduling.module';
import { UsersModule } from '../users/users.module';
import { WasmModule } from '../wasm/wasm.module';
import { EmbeddedNodes } from './embedded-node.service';

/**
 * The embedded node (issue 17): the node agent's own code, in the server's process, over direct calls. It
 * depends on the modules it calls, so Nest stops it before them at shutdown (destroy hooks run dependents
 * first): its runs end or are handed back while the engine and the database are still there.
 */
@Module({
  imports: [UsersModule, NodesModule, SchedulingModule, WasmModule, ProofsModule],
  providers: [EmbeddedNodes],
})
export class EmbeddedNodeModule {}
