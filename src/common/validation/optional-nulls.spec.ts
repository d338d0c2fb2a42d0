import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, ValidateNested } from 'class-validator';
import { NullIsAValue } from './optional-nulls';
import { validateDto } from './validate-dto';

class Limits {
  @IsOptional() @IsInt() rpm?: number;
}

class Body {
  @IsString() name!: string;
  @IsOptional() @IsString() note?: string;
  @IsOptional() @NullIsAValue() payload?: unknown;
  @IsOptional() @ValidateNested() @Type(() => Limits) limits?: Limits;
  @IsOptional() @ValidateNested({ each: true }) @Type(() => Limits) each?: Limits[];
}

describe('optional fields sent as null (the validation pipe)', () => {
  it('are left out, also in nested DTOs and arrays of them; a NullIsAValue field keeps its null', async () => {
    const body = await validateDto(Body, {
      name: 'a',
      note: null,
      payload: null,
      limits: { rpm: null },
      each: [{ rpm: null }, { rpm: 2 }],
    });
    expect(body).toEqual({ name: 'a', payload: null, limits: {}, each: [{}, { rpm: 2 }] });
    expect(Object.hasOwn(body, 'note')).toBe(false);
    expect(Object.hasOwn(body.limits!, 'rpm')).toBe(false);
  });

  it('leave a required field that is null to validation (a 422), and plain JSON inside untouched', async () => {
    await expect(validateDto(Body, { name: null })).rejects.toMatchObject({ status: 422 });
    const body = await validateDto(Body, { name: 'a', payload: { inner: null, list: [null] } });
    expect(body.payload).toEqual({ inner: null, list: [null] });
  });
});
