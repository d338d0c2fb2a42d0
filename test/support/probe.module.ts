import { Body, Controller, Get, Module, Post } from '@nestjs/common';
import { Type } from 'class-transformer';
import { Public } from '../../src/common/auth/public.decorator';
import { AppException } from '../../src/common/errors/app.exception';
import { IsInt, IsOptional, IsString, Length, Max, Min, ValidateNested } from 'class-validator';

class ProbeInnerDto {
  @IsString()
  @Length(1, 8)
  label!: string;
}

class ProbeEchoDto {
  @IsString()
  @Length(1, 10)
  name!: string;

  @IsInt()
  @Min(1)
  @Max(5)
  count!: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => ProbeInnerDto)
  inner?: ProbeInnerDto;
}

/** Test-only routes that exercise the global pipe and filter; never part of the real app. */
@Public()
@Controller('probe')
class ProbeController {
  @Post('echo')
  echo(@Body() body: ProbeEchoDto) {
    return body;
  }

  /** A dependency's failure answered 503 (like authentication with its store down): a fault, not load shed. */
  @Get('unavailable')
  unavailable(): never {
    throw AppException.unavailable('The probe dependency is down; retry shortly', 1000);
  }

  @Get('boom')
  boom(): never {
    throw new Error('database password is hunter2 at /srv/app/secret.ts:42');
  }
}

@Module({ controllers: [ProbeController] })
export class ProbeModule {}
