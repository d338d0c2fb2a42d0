import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiExtraModels,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
  getSchemaPath,
} from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { CurrentPrincipal } from '../common/auth/request-context.decorator';
import type { Principal } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { BodyLimit } from '../common/http/body-limit';
import { LegacyVerifyProofRequestDto, VerifyProofRequestDto, VerifyProofResultDto } from './dto/verify.dto';
import { ProofVerificationService } from './proof-verification.service';
import { PROOF_NOT_FOUND, ProofReadsService } from './proof-reads.service';
import { StoredProofDto } from './dto/stored-proof.dto';
import { ParseUuidPipe } from '../common/validation/parse-id.pipe';
import { verifyBodyLimit } from './verify-request';
import type { VerifyRequest } from './verify-request';
import { VerifyRequestPipe } from './verify-request.pipe';
import { MULTIPLIER_GROTH16_CIRCUIT_ID, MULTIPLIER_GROTH16_PROOF } from './dto/circuit-examples';

@ApiTags('proofs')
@Controller('proofs')
export class ProofsController {
  constructor(
    private readonly verification: ProofVerificationService,
    private readonly reads: ProofReadsService,
  ) {}

  @Post('verify')
  @HttpCode(HttpStatus.OK)
  @Authenticated({ scopes: [Scope.ProofsWrite] })
  @RateLimitTier('proof')
  @BodyLimit(verifyBodyLimit)
  @ApiExtraModels(VerifyProofRequestDto, LegacyVerifyProofRequestDto)
  @ApiBody({
    schema: {
      oneOf: [
        { $ref: getSchemaPath(VerifyProofRequestDto) },
        { $ref: getSchemaPath(LegacyVerifyProofRequestDto) },
      ],
    },
    examples: {
      multiplier: {
        summary: "3 · 11 = 33 on the multiplier circuit (register it first: POST /admin/circuits' example)",
        value: {
          circuit_id: MULTIPLIER_GROTH16_CIRCUIT_ID,
          proof: MULTIPLIER_GROTH16_PROOF,
          public_signals: ['33', '11'],
        },
      },
    },
  })
  @ApiOkResponse({
    type: VerifyProofResultDto,
    description: 'Verified and stored; a well-formed proof that does not verify is `valid: false`',
  })
  @ApiUnprocessableEntityResponse({
    description:
      'Malformed proof, signals or request, or a `task_id`/`run_id` of a task that is not a zk_proof task of ' +
      'this circuit (`validation_error`)',
  })
  @ApiNotFoundResponse({ description: 'Unknown circuit, or a task or run that is not yours (`not_found`)' })
  @ApiConflictResponse({ description: 'The circuit is retired (`conflict`, `reason: circuit_retired`)' })
  @ApiPayloadTooLargeResponse({ description: 'Body over the route’s limit (`payload_too_large`)' })
  @ApiServiceUnavailableResponse({
    description:
      'Not verified, nothing stored: no thread in time, too many of yours waiting, or the run past its ' +
      'budget (`service_unavailable`, with `Retry-After`)',
  })
  verify(
    @Body(VerifyRequestPipe) request: VerifyRequest,
    @CurrentPrincipal() principal: Principal,
  ): Promise<VerifyProofResultDto> {
    return this.verification.verify(request, principal.userId);
  }

  @Get(':proof_id')
  // No scope of its own, as circuits are read: any credential of the user reads their proofs (a proof reveals
  // nothing it proves, and a task's is in its result already); node keys never.
  @Authenticated()
  @ApiOkResponse({ type: StoredProofDto, description: 'The stored verification, with its proof and signals' })
  @ApiNotFoundResponse({
    description:
      'No such proof, or not yours: you verified it, made it on your node, or own the task it is bound to ' +
      '(`not_found`)',
  })
  get(
    @Param('proof_id', new ParseUuidPipe(PROOF_NOT_FOUND)) proofId: string,
    @CurrentPrincipal() principal: Principal,
  ): Promise<StoredProofDto> {
    return this.reads.get(principal, proofId);
  }
}
