import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiProduces,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { NodeAgent } from '../common/auth/node-agent.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { Scope } from '../common/auth/scopes';
import { BodyLimit } from '../common/http/body-limit';
import { ParseSha256Pipe } from '../common/validation/parse-id.pipe';
import { CircuitRegistrationPipe, circuitUploadBodyLimit } from './circuit-registration.pipe';
import type { CircuitRegistration } from './circuit-registration.pipe';
import {
  MULTIPLIER_GROTH16_VKEY,
  MULTIPLIER_GROTH16_ZKEY_BASE64,
  MULTIPLIER_WASM_BASE64,
} from './dto/circuit-examples';
import { CircuitRegistryService } from './circuit-registry.service';
import { CircuitRemovalService } from './circuit-removal.service';
import { CircuitRestorationService } from './circuit-restoration.service';
import {
  CircuitDto,
  CircuitPageDto,
  CircuitRemovalDto,
  ListCircuitsQueryDto,
  RegisterCircuitDto,
  RegisteredCircuitDto,
} from './dto/circuit.dto';

/**
 * Registering, removing and restoring circuits decides which proofs count as valid, so it takes the admin role
 * and its own scope (`admin:circuits`): an admin key narrowed to users, audit or throttling cannot register one.
 */
@ApiTags('admin')
@Controller('admin/circuits')
@Authenticated({ roles: ['admin'], scopes: [Scope.AdminCircuits] })
export class AdminCircuitsController {
  constructor(
    private readonly registry: CircuitRegistryService,
    private readonly removal: CircuitRemovalService,
    private readonly restoration: CircuitRestorationService,
  ) {}

  @Post()
  @BodyLimit(circuitUploadBodyLimit)
  @ApiBody({
    type: RegisterCircuitDto,
    examples: {
      multiplier: {
        summary: 'A groth16 circuit (a·b = c): verification only, no prover files',
        value: { name: 'multiplier', protocol: 'groth16', verification_key: MULTIPLIER_GROTH16_VKEY },
      },
      multiplier_with_prover: {
        summary:
          "The same circuit with its wasm and zkey, which zk_proof tasks need (POST /tasks' zk_proof example)",
        value: {
          name: 'multiplier',
          protocol: 'groth16',
          verification_key: MULTIPLIER_GROTH16_VKEY,
          wasm: MULTIPLIER_WASM_BASE64,
          zkey: MULTIPLIER_GROTH16_ZKEY_BASE64,
        },
      },
    },
  })
  @ApiCreatedResponse({ type: RegisteredCircuitDto, description: 'Registered' })
  @ApiOkResponse({
    type: RegisteredCircuitDto,
    description: 'This key was registered before: the same circuit (a wasm or zkey it lacked is added)',
  })
  @ApiConflictResponse({ description: 'The circuit has another wasm or zkey than this call’s (`conflict`)' })
  @ApiUnprocessableEntityResponse({ description: 'Not a bn128 key of that protocol, or a bad upload' })
  @ApiPayloadTooLargeResponse({ description: 'Body over the uploads’ caps (`payload_too_large`)' })
  async register(
    @Body(CircuitRegistrationPipe) registration: CircuitRegistration,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RegisteredCircuitDto> {
    const { circuit, already_existed } = await this.registry.register(registration, actor.userId, meta);
    if (already_existed) void reply.status(HttpStatus.OK);
    return { ...circuit, already_existed };
  }

  @Delete(':circuit_id')
  @ApiOkResponse({
    type: CircuitRemovalDto,
    description:
      'Deleted (nothing referenced it), or retired (tasks or proofs reference it: readable still, no new ' +
      'tasks or proofs; its unfinished tasks run to the end). Again on a retired circuit: retired again, or ' +
      'deleted once nothing references it. A retired circuit’s unfinished tasks are listed by ' +
      '`GET /tasks?circuit_id=…&all=true` (with `status=pending` or `running`), to cancel any; ' +
      '`POST /admin/circuits/{circuit_id}/restore` undoes a retirement',
  })
  @ApiNotFoundResponse({ description: 'No such circuit, or deleted already (`not_found`)' })
  remove(
    @Param('circuit_id', new ParseSha256Pipe('Circuit not found')) circuitId: string,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<CircuitRemovalDto> {
    return this.removal.remove(circuitId, actor.userId, meta);
  }

  @Post(':circuit_id/restore')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({
    type: CircuitDto,
    description:
      'Active again (`retired_at: null`): new zk_proof tasks and proofs may name it. A circuit that is not ' +
      'retired is returned unchanged',
  })
  @ApiNotFoundResponse({
    description:
      'No such circuit, or deleted (`not_found`): a deleted circuit’s key is registered again instead',
  })
  restore(
    @Param('circuit_id', new ParseSha256Pipe('Circuit not found')) circuitId: string,
    @CurrentPrincipal() actor: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<CircuitDto> {
    return this.restoration.restore(circuitId, actor.userId, meta);
  }
}

@ApiTags('circuits')
@Controller('circuits')
@Authenticated()
export class CircuitsController {
  constructor(private readonly registry: CircuitRegistryService) {}

  @Get()
  @ApiOkResponse({
    type: CircuitPageDto,
    description: 'Registered circuits (retired ones too), oldest first',
  })
  list(@Query() query: ListCircuitsQueryDto): Promise<CircuitPageDto> {
    return this.registry.page(query);
  }

  @Get(':circuit_id')
  // Nodes read the circuit (its protocol) to prove zk_proof tasks: any node key may, like any user.
  @NodeAgent({ users: true })
  @ApiOkResponse({ type: CircuitDto, description: 'The circuit, also when retired' })
  @ApiNotFoundResponse({ description: 'No such circuit (`not_found`)' })
  get(@Param('circuit_id', new ParseSha256Pipe('Circuit not found')) circuitId: string): Promise<CircuitDto> {
    return this.registry.get(circuitId);
  }

  @Get(':circuit_id/wasm')
  @NodeAgent({ users: true })
  @ApiProduces('application/wasm')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' }, description: 'The witness generator' })
  @ApiNotFoundResponse({ description: 'No such circuit, or it has no wasm (`not_found`)' })
  wasm(
    @Param('circuit_id', new ParseSha256Pipe('Circuit not found')) circuitId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    void reply.type('application/wasm');
    return this.registry.artifact(circuitId, 'wasm');
  }

  @Get(':circuit_id/zkey')
  @NodeAgent({ users: true })
  @ApiProduces('application/octet-stream')
  @ApiOkResponse({ schema: { type: 'string', format: 'binary' }, description: 'The proving key' })
  @ApiNotFoundResponse({ description: 'No such circuit, or it has no zkey (`not_found`)' })
  zkey(
    @Param('circuit_id', new ParseSha256Pipe('Circuit not found')) circuitId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Buffer> {
    void reply.type('application/octet-stream');
    return this.registry.artifact(circuitId, 'zkey');
  }
}
