import { Type } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { Page, PAGE_LIMIT } from './page';

/** `?limit` (1–100, default 50) and an opaque `?cursor` from a previous page's `next_cursor`. */
export class PageQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: PAGE_LIMIT.max,
    default: PAGE_LIMIT.default,
    description: `Items per page, at most ${PAGE_LIMIT.max}; fewer (and \`next_cursor: null\`) on the last page`,
  })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value,
  )
  @IsInt()
  @Min(1)
  @Max(PAGE_LIMIT.max)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not a valid cursor' })
  cursor?: string;
}

/**
 * The OpenAPI form of `Page<Item>`, for a list route's response: `class CircuitPageDto extends
 * PageDto(CircuitDto) {}` (the subclass gives the schema its name).
 */
export function PageDto<T>(item: Type<T>): Type<Page<T>> {
  class PageOfItems implements Page<T> {
    @ApiProperty({ type: [item] }) items!: T[];
    @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page' })
    next_cursor!: string | null;
  }
  return PageOfItems;
}
