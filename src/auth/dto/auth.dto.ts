import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsOptional, IsString, MaxLength, ValidateBy } from 'class-validator';
import { IsPassword, PASSWORD_MAX_BYTES, PASSWORD_MIN_BYTES } from '../password';
import { ALL_SCOPES, ROLES } from '../../common/auth/scopes';
import type { Scope } from '../../common/auth/scopes';
import { IsNotReservedUsername } from '../../common/validation/reserved-names';
import { IsUsername, USERNAME_PATTERN } from '../../common/validation/username';
import type { UserRecord } from '../../users/users.repository';
export const PASSWORD_DOC = `${PASSWORD_MIN_BYTES}–${PASSWORD_MAX_BYTES} bytes of UTF-8, no NUL (bcrypt reads only 72 bytes)`;

export class RegisterDto {
  @ApiProperty({
    example: 'alice',
    pattern: USERNAME_PATTERN.source,
    description: '3–32 of A–Z a–z 0–9 _; unique ignoring case; names starting with `system_` are reserved',
  })
  @IsUsername()
  @IsNotReservedUsername()
  username!: string;

  @ApiProperty({ example: 'correct horse battery', description: PASSWORD_DOC })
  @IsPassword()
  password!: string;

  @ApiPropertyOptional({ example: 'alice@example.com', format: 'email', maxLength: 254 })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  @IsEmail()
  email?: string;
}

export class LoginDto {
  @ApiProperty({ example: 'alice', maxLength: 64 })
  @IsString()
  @MaxLength(64)
  username!: string;

  @ApiProperty({ example: 'correct horse battery', maxLength: 1024 })
  @IsString()
  @MaxLength(1024)
  password!: string;
}

/** A JWT's shape (base64url JSON header `{"…`, payload, signature): an access token where a refresh token goes. */
const JWT_SHAPE = /^eyJ[\w-]*\.[\w-]*\.[\w-]*$/;

/** Refuses an access token sent as the refresh token (a likely mix-up) with a message that says which is which. */
function IsNotAccessToken(): PropertyDecorator {
  return ValidateBy({
    name: 'isNotAccessToken',
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || !JWT_SHAPE.test(value),
      defaultMessage: () =>
        'this is an access token (a JWT, for Authorization: Bearer); send the refresh token from login or the ' +
        'previous refresh, which starts with rt_',
    },
  });
}

export class RefreshDto {
  @ApiProperty({
    example: 'rt_…',
    maxLength: 256,
    description: 'The refresh token from login or the previous refresh (`rt_…`; not the access token)',
  })
  @IsString()
  @MaxLength(256)
  @IsNotAccessToken()
  refresh_token!: string;
}

export class ChangePasswordDto {
  // As login's password: whatever the account's is, checked (and refused when wrong) by bcrypt, never the rule.
  @ApiProperty({
    example: 'correct horse battery',
    maxLength: 1024,
    description: 'The account’s password now',
  })
  @IsString()
  @MaxLength(1024)
  current_password!: string;

  @ApiProperty({
    example: 'a longer passphrase, 2026',
    description: `${PASSWORD_DOC}; not the current one`,
  })
  @IsPassword()
  new_password!: string;
}

export class RegisterResponseDto {
  @ApiProperty({ format: 'uuid' })
  user_id!: string;

  @ApiProperty()
  username!: string;

  @ApiProperty({
    description:
      'A default API key (scopes tasks:read tasks:write nodes:read nodes:write proofs:write). Shown only here.',
  })
  api_key!: string;
}

export function toRegisterResponseDto(user: UserRecord, apiKey: string): RegisterResponseDto {
  return { user_id: user.userId, username: user.username, api_key: apiKey };
}

export class TokenPairDto {
  @ApiProperty({ description: 'JWT (HS256) for `Authorization: Bearer`' })
  access_token!: string;

  @ApiProperty({ description: 'Opaque, single use: each refresh returns a new one' })
  refresh_token!: string;

  @ApiProperty({ example: 'Bearer' })
  token_type!: 'Bearer';

  @ApiProperty({ type: 'integer', example: 900, description: 'Access token lifetime in seconds' })
  expires_in!: number;
}

export class MeDto {
  @ApiProperty({ format: 'uuid' })
  user_id!: string;

  @ApiProperty()
  username!: string;

  @ApiProperty({ enum: ROLES })
  role!: string;

  @ApiProperty({ enum: ALL_SCOPES, isArray: true })
  scopes!: string[];

  @ApiProperty({ format: 'date-time' })
  created_at!: string;

  @ApiProperty({ format: 'date-time', nullable: true, type: String })
  last_login!: string | null;
}

/** `scopes` are the caller's, which narrow the account's role (an API key may carry fewer). */
export function toMeDto(user: UserRecord, scopes: readonly Scope[]): MeDto {
  return {
    user_id: user.userId,
    username: user.username,
    role: user.role,
    scopes: [...scopes],
    created_at: user.createdAt.toISOString(),
    last_login: user.lastLogin?.toISOString() ?? null,
  };
}
