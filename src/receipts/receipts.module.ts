import { Module } from '@nestjs/common';
import { ClockModule } from '../common/clock/clock.module';
import { TasksModule } from '../tasks/tasks.module';
import { ReceiptsController } from './receipts.controller';
import { ReceiptsRepository } from './receipts.repository';
import { ReceiptsService } from './receipts.service';

/**
 * Signed task receipts (issue 18): the server's public key and the receipt of a completed task, which anyone
 * can check offline (`npm run verify-receipt`, src/receipts/verify-receipt.ts).
 */
@Module({
  imports: [ClockModule, TasksModule],
  controllers: [ReceiptsController],
  providers: [ReceiptsService, ReceiptsRepository],
})
export class ReceiptsModule {}
