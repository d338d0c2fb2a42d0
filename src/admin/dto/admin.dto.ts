import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsOptional } from 'class-validator';
import { PASSWORD_DOC, RegisterDto } from '../../auth/dto/auth.dto';
import { IsPassword } from '../../auth/password';
import { ROLES } from '../../common/auth/scopes';
import type { Role } from '../../common/auth/scopes';
import { PageDto } from '../../common/pagination/page.dto';
import type { UserRecord } from '../../users/users.repository';

/** A field absent or `null` is left as it is (the ValidationPipe deletes optional nulls before the handler). */
export class UpdateUserDto {
  @ApiPropertyOptional({ enum: ROLES })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;

  @ApiPropertyOptional({ description: 'true disables the account and revokes all its refresh tokens' })
  @IsOptional()
  @IsBoolean()
  disabled?: boolean;

  @ApiPropertyOptional({
    example: 'a new long password',
    description: `A new password for the account (a forgotten one): its sessions and tokens end. ${PASSWORD_DOC}`,
  })
  @IsOptional()
  @IsPassword()
  password?: string;
}

/** The fields and rules of a registration, and the role the account starts with. */
export class CreateUserDto extends RegisterDto {
  @ApiPropertyOptional({ enum: ROLES, default: 'user' })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;
}

export class AdminUserDto {
  @ApiProperty({ format: 'uuid' }) user_id!: string;
  @ApiProperty() username!: string;
  @ApiProperty({ nullable: true, type: String }) email!: string | null;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty() disabled!: boolean;
  @ApiProperty({ format: 'date-time' }) created_at!: string;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) last_login!: string | null;
}

export class AdminUserPageDto extends PageDto(AdminUserDto) {}

export function toAdminUserDto(user: UserRecord): AdminUserDto {
  return {
    user_id: user.userId,
    username: user.username,
    email: user.email,
    role: user.role,
    disabled: user.disabledAt !== null,
    created_at: user.createdAt.toISOString(),
    last_login: user.lastLogin?.toISOString() ?? null,
  };
}
