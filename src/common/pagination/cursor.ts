import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { AppException } from '../errors/app.exception';
import { UUID_PATTERN } from '../validation/uuid';

/** `?limit` (1–100, default 50) and an opaque `?cursor` from a previous page's `next_cursor`. */
export class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 50 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value,
  )
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'cursor is not a valid cursor' })
  cursor?: string;
}

export interface KeysetCursor {
  /** ISO timestamp of the last row's sort time. */
  t: string;
  /** The last row's id, the tie-breaker. */
  id: string;
}

export function encodeCursor(cursor: KeysetCursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/**
 * Decodes a cursor or answers 422: a tampered cursor must never reach SQL as anything but checked values.
 * `idPattern` is what the list's tie-breaking id looks like (a UUID unless the list says otherwise).
 */
export function decodeCursor(raw: string | undefined, idPattern: RegExp = UUID_PATTERN): KeysetCursor | null {
  if (!raw) return null;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<KeysetCursor>;
    const validTime = typeof parsed.t === 'string' && !Number.isNaN(Date.parse(parsed.t));
    if (validTime && typeof parsed.id === 'string' && idPattern.test(parsed.id))
      return { t: parsed.t!, id: parsed.id };
  } catch {
    // Not base64 JSON: answered by the validation error below.
  }
  throw AppException.validation([{ field: 'cursor', message: 'cursor is not a valid cursor' }]);
}
