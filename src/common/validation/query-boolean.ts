import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

const toBoolean = ({ value }: { value: unknown }) =>
  value === 'true' ? true : value === 'false' ? false : value;

/** An optional `?flag=true|false` query parameter; any other spelling (`1`, `yes`) is a 422. */
export function IsQueryBoolean(): PropertyDecorator {
  return applyDecorators(IsOptional(), Transform(toBoolean), IsBoolean());
}
