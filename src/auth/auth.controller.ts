import { Body, Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import {
  ApiConflictResponse,
  ApiCreatedResponse,
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
import { LoginDto, MeDto, RefreshDto, RegisterDto, RegisterResponseDto, TokenPairDto } from './dto/auth.dto';
import type { Principal, RequestMeta } from '../common/auth/principal';

@ApiTags('auth')
@RateLimitTier('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Public()
  @Post('register')
  @ApiCreatedResponse({
    type: RegisterResponseDto,
    description: 'The new user, with an API key shown this once',
  })
  @ApiConflictResponse({ description: 'The username (or email) is taken (`conflict`)' })
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
  @Authenticated()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'Every refresh token family of the caller is revoked' })
  logoutAll(
    @CurrentPrincipal() principal: Principal,
    @CurrentRequestMeta() meta: RequestMeta,
  ): Promise<void> {
    return this.auth.logoutAll(principal, meta);
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
