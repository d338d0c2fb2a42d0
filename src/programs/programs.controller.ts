import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { ProgramListDto, toProgramDto } from './dto/program.dto';
import { ProgramsService } from './programs.service';

/**
 * The built-in programs of `computation` tasks. Any authenticated caller may list them (no scope): the list
 * is the same for everyone and says nothing about anyone.
 */
@ApiTags('programs')
@Controller('programs')
export class ProgramsController {
  constructor(private readonly programs: ProgramsService) {}

  @Get()
  @Authenticated()
  @ApiOkResponse({ type: ProgramListDto, description: 'Each program with its input schema and module id' })
  list(): ProgramListDto {
    return { items: this.programs.list().map(toProgramDto) };
  }
}
