import { Controller, Get, Param } from '@nestjs/common';
import { ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import type { Principal } from '../common/auth/principal';
import { Public } from '../common/auth/public.decorator';
import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import { CurrentPrincipal } from '../common/auth/request-context.decorator';
import { Scope } from '../common/auth/scopes';
import { ServerPublicKeyDto, SignedTaskReceiptDto } from './dto/receipt-responses.dto';
import { ReceiptsService } from './receipts.service';

@ApiTags('receipts')
@Controller()
export class ReceiptsController {
  constructor(private readonly receipts: ReceiptsService) {}

  // Public: anyone holding a receipt must be able to fetch the key it should be signed with.
  @Get('receipts/public-key')
  @Public()
  @ApiOkResponse({ type: ServerPublicKeyDto, description: 'The key task receipts are signed with' })
  publicKey(): ServerPublicKeyDto {
    return this.receipts.publicKey();
  }

  @Get('tasks/:task_id/receipt')
  @Authenticated({ scopes: [Scope.TasksRead] })
  @RateLimitTier('task')
  @ApiOkResponse({
    type: SignedTaskReceiptDto,
    description: 'Signed by the server; check it offline with `npm run verify-receipt` (docs/receipts.md)',
  })
  @ApiNotFoundResponse({ description: 'No such task, or not yours (`not_found`)' })
  @ApiConflictResponse({
    description:
      'Not completed (`reason: task_not_completed`), or completed before receipts were kept ' +
      '(`reason: receipt_unavailable`)',
  })
  taskReceipt(
    @Param('task_id') taskId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<SignedTaskReceiptDto> {
    return this.receipts.taskReceipt(principal, taskId);
  }
}
