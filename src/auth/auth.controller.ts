import { Body, Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiForbiddenResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { RateLimitTier } from '../common/auth/rate-tier.decorator';
import { AcceptsNulInBody } from '../common/http/body-parsers';
import { AuthService } from './auth.service';
import { Authenticated } from '../common/auth/authenticated.decorator';
import { Public } from '../common/auth/public.decorator';
import { CurrentPrincipal, CurrentRequestMeta } from '../common/auth/request-context.decorator';
import {
  ChangePasswordDto,
  LoginDto,
  MeDto,
  RefreshDto,
  RegisterDto,
  RegisterResponseDto,
  TokenPairDto,
} from './dto/auth.dto';
import { PasswordChangeService } from './password-change.service';
import type { Principal, RequestMeta } from '../common/auth/principal';

@ApiTags('auth')
@RateLimitTier('auth')
@Controller('auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly passwords: PasswordChangeService,
  ) {}

  @Public()
  @Post('register')
  @ApiCreatedResponse({
    type: RegisterResponseDto,
    description: 'The new user, with an API key shown this once',
  })
  @ApiConflictResponse({ description: 'The username (or email) is taken (`conflict`)' })
  @ApiForbiddenResponse({
    description:
      'Registration is closed on this server (`forbidden`, `reason: registration_closed`): an admin creates accounts',
  })
  @ApiUnprocessableEntityResponse({ description: 'Invalid username, password or email (`validation_error`)' })
  register(@Body() dto: RegisterDto, @CurrentRequestMeta() meta: RequestMeta): Promise<RegisterResponseDto> {
    return this.auth.register(dto, meta);
  }

  @Public()
  @Post('login')
  @HttpCode(HttpStatus.OK)
  // A NUL in the username is a failed login like any other (401, audited); AuthService never looks it up.
  @AcceptsNulInBody()
  @ApiOkResponse({ type: TokenPairDto, description: 'An access token and a refresh token' })
  @ApiUnauthorizedResponse({ description: 'Wrong username or password (`unauthorized`)' })
  login(@Body() dto: LoginDto, @CurrentRequestMeta() meta: RequestMeta): Promise<TokenPairDto> {
    return this.auth.login(dto, meta);
  }

  @Public()
  @Post('refresh')
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: TokenPairDto, description: 'A new pair; the presented refresh token is used up' })
  @ApiUnauthorizedResponse({
    description: 'Unknown, expired, revoked or replayed refresh token (`unauthorized`)',
  })
  refresh(@Body() dto: RefreshDto, @CurrentRequestMeta() meta: RequestMeta): Promise<TokenPairDto> {
    return this.auth.refresh(dto.refresh_token, meta);
  }

  @Public()
  @Post('logout')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'The refresh token family is revoked (also when it was unknown)' })
  logout(@Body() dto: RefreshDto, @CurrentRequestMeta() meta: RequestMeta): Promise<void> {
    return this.auth.logout(dto.refresh_token, meta);
  }

  @Post('logout-all')
  // Security: a leaked script key, whatever its scopes, must not be able to end its owner's sessions at will.
  @Authenticated({ sessionOnly: true })
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Every refresh token family of the caller is revoked' })
  logoutAll(
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<void> {
    return this.auth.logoutAll(principal, meta);
  }

  @Post('password')
  // A leaked script key must not be able to take the account over: only a login session may do this.
  @Authenticated({ sessionOnly: true })
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({
    type: TokenPairDto,
    description:
      'Changed. Every session of the account ended (refresh tokens revoked, access tokens issued before cut); ' +
      'this is a new one, as login answers. API keys keep working',
  })
  @ApiForbiddenResponse({
    description:
      'The current password is wrong (`forbidden`, reason `wrong_password`; audited, and counted with failed ' +
      'authentications), or the account is a built-in system account (`forbidden`)',
  })
  @ApiUnprocessableEntityResponse({
    description:
      'Request failed validation (`validation_error`): the new password breaks the registration rule, or ' +
      'is the current one',
  })
  changePassword(
    @Body() dto: ChangePasswordDto,
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<TokenPairDto> {
    return this.passwords.change(principal, dto, meta);
  }

  @Get('me')
  @Authenticated()
  // A read that scripts make often: not held to the auth tier's 10 a minute, which guards credentials.
  @RateLimitTier('general')
  @ApiOkResponse({ type: MeDto, description: 'Who the credentials belong to' })
  me(@CurrentPrincipal() principal: Principal): Promise<MeDto> {
    return this.auth.me(principal);
  }
}
