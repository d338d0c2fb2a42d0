import { Body, Controller, HttpCode, HttpStatus, Param, Post, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiForbiddenResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { abandonedBy, clientGone } from '../common/http/abandoned';
import { BodyLimit, BodyLimitContext } from '../common/http/body-limit';
import { LongLived } from '../common/http/long-lived';
import { WasmConfig } from '../wasm/wasm.config';
import { NodeAgent } from '../common/auth/node-agent.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import { IdempotencyKey, IDEMPOTENCY_KEY_SCHEMA } from '../common/validation/idempotency-key';
import { ClaimNext } from './claim-next';
import { ClaimService } from './claim.service';
import { EndsLeaseWhenRefused } from './refused-results';
import { ClaimRequestDto, ClaimResponseDto, claimWaits, MAX_CLAIM } from './dto/claim.dto';
import { MAX_RESULT_TEXT_CHARS, RunResultRequestDto, RunResultResponseDto } from './dto/result.dto';
import { RunReleaseRequestDto } from './dto/release.dto';
import { RunRelease } from './run-release';
import { RunResultService } from './run-result.service';

/** JSON escapes a control character in 6 bytes (`\u0001`). */
const ESCAPED_BYTES_PER_BYTE = 6;

/**
 * A result carries an output of up to WASM_MAX_OUTPUT_BYTES, which JSON may escape to six times its size, and
 * stdout and stderr: a correct result must never be a 413 (the run would be lost and retried elsewhere).
 */
function resultBodyLimit({ get, defaultLimit }: BodyLimitContext): number {
  const text = ESCAPED_BYTES_PER_BYTE * (get(WasmConfig).maxOutputBytes + 2 * MAX_RESULT_TEXT_CHARS);
  return Math.max(defaultLimit, text + 64 * 1024);
}

/** The node protocol: claim runs (long poll), report their results or hand them back. Node keys only. */
@ApiTags('scheduling')
@Controller()
export class SchedulingController {
  constructor(
    private readonly claims: ClaimService,
    private readonly results: RunResultService,
    private readonly release: RunRelease,
  ) {}

  @Post('nodes/:node_id/claim')
  @HttpCode(HttpStatus.OK)
  // No user scope opens these: AuthorizationGuard admits only the node's own key (nodes:agent).
  @Authenticated()
  @NodeAgent({ nodeParam: 'node_id', users: false })
  @RateLimitTier('agent')
  @LongLived('long_poll', claimWaits)
  // A header, not a body field: the pinned body stays as it is, and a server that predates it ignores the
  // header where its validation would refuse an unknown field (422).
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    schema: IDEMPOTENCY_KEY_SCHEMA,
    description:
      '1–255 printable ASCII characters, no spaces. One per logical claim, resent with its retries: a repeat while the runs it leased are still leased ' +
      'to this node answers with those runs (same fences, leases renewed) instead of leasing more',
  })
  @ApiOkResponse({ type: ClaimResponseDto, description: 'Leased runs, each with its fence and spec' })
  @ApiNoContentResponse({ description: 'Nothing to do within wait_ms' })
  @ApiForbiddenResponse({
    description:
      'The node is quarantined for invalid results (`reason: node_quarantined`, with why), or registered no ' +
      'public key, so its results could not be checked (`reason: no_public_key`)',
  })
  @ApiNotFoundResponse({ description: 'Another node than the key’s own, or no such node (`not_found`)' })
  @ApiBody({ type: ClaimRequestDto, required: false })
  async claim(
    @Param('node_id') nodeId: string,
    @Body() dto: ClaimRequestDto,
    @IdempotencyKey() claimKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ClaimResponseDto | undefined> {
    const claimed = await this.claims.claim(nodeId, dto ?? {}, claimKey, abandonedBy(reply));
    if (claimed) return claimed;
    void reply.status(HttpStatus.NO_CONTENT);
    return undefined;
  }

  @Post('runs/:run_id/result')
  @HttpCode(HttpStatus.OK)
  @BodyLimit(resultBodyLimit)
  @EndsLeaseWhenRefused()
  @Authenticated()
  // The node is not in the path: the service checks the run is leased to the calling node.
  @NodeAgent({ users: false })
  @RateLimitTier('agent')
  @ApiHeader({
    name: 'Claim-Next',
    required: false,
    description:
      `Once this result is accepted, also lease up to this many runs (1–${MAX_CLAIM}) to the node, without waiting: ` +
      'they come back in `next_runs`, as a claim would answer them. A header, so a server that predates it ' +
      'ignores it (no `next_runs`: claim as usual)',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    schema: IDEMPOTENCY_KEY_SCHEMA,
    description:
      'With Claim-Next: the key of the claim it carries, resent with the result’s retries, so a retry whose ' +
      'first answer was lost gets the runs leased then instead of more (see the claim route)',
  })
  @ApiOkResponse({
    type: RunResultResponseDto,
    description: 'Accepted (or the first answer to an identical repeat), with `next_runs` under Claim-Next',
  })
  @ApiForbiddenResponse({
    description:
      'The node registered no public key: its results cannot be verified (`reason: no_public_key`)',
  })
  @ApiConflictResponse({
    description: 'Stale fence, expired lease or another node’s run (`reason: lease_lost`)',
  })
  @ApiBadRequestResponse({
    description:
      'The body is not JSON (`bad_request`); from the node holding the run’s live lease, this ends the lease ' +
      'as a 422 validation refusal does (outcome `result_invalid`)',
  })
  @ApiUnprocessableEntityResponse({
    description:
      'The body failed validation (`validation_error`; `details` names each field: from the node holding the ' +
      'run’s live lease, under the fence the body names if it names one, the lease ends, outcome ' +
      '`result_invalid`, its task queued again without spending an attempt), or a malformed Claim-Next or ' +
      'Idempotency-Key header (the lease stays); output_hash is not the hash of output, a malformed proof, a ' +
      'proof on a task that takes none, or none on an ok zk_proof result (the lease ends as for an invalid ' +
      'body); the signature does not verify against the node’s key (`reason: signature_invalid`: the run’s ' +
      'lease ends, its task is queued again without spending an attempt)',
  })
  async result(
    @Param('run_id') runId: string,
    @Body() dto: RunResultRequestDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
    @ClaimNext() claimNext: number | undefined,
    @IdempotencyKey() claimKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RunResultResponseDto> {
    const nodeId = principal.nodeId!;
    const answer = await this.results.submit(nodeId, runId, dto, { userId: principal.userId, meta });
    if (claimNext === undefined) return answer;
    const nextRuns = await this.claims.claimNext(nodeId, claimNext, claimKey, () => clientGone(reply));
    return { ...answer, next_runs: nextRuns };
  }

  @Post('runs/:run_id/release')
  // 204, as a claim with nothing to lease: there is nothing to answer but that the run is no longer the node's.
  @HttpCode(HttpStatus.NO_CONTENT)
  @Authenticated()
  // The node is not in the path: as for a result, only the node the run is leased to may hand it back.
  @NodeAgent({ users: false })
  @RateLimitTier('agent')
  @ApiNoContentResponse({
    description:
      'Handed back: the lease ended (run outcome `released`) and the task is queued again at once, its ' +
      'attempt not spent',
  })
  @ApiConflictResponse({
    description:
      'Stale fence, expired or already ended lease, or another node’s run (`reason: lease_lost`), as for a result',
  })
  @ApiUnprocessableEntityResponse({
    description: 'The body failed validation (`validation_error`; `details` names each field)',
  })
  async releaseRun(
    @Param('run_id') runId: string,
    @Body() dto: RunReleaseRequestDto,
    @CurrentPrincipal() principal: Principal,
  ): Promise<void> {
    await this.release.releaseOwn(principal.nodeId!, runId, dto.fence);
  }
}
