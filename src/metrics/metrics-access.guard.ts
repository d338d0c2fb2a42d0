import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import ipaddr from 'ipaddr.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { MetricsConfig } from './metrics.config';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * Who may scrape `/metrics`: with METRICS_TOKEN, a caller presenting `Authorization: Bearer <token>`; with
 * METRICS_ALLOWED_CIDRS, a client IP inside one of them (Fastify's request.ip, so X-Forwarded-For counts only
 * behind a trusted proxy); with both, both. Production refuses to start with neither (see load-config).
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  private readonly tokenDigest: Buffer | null;
  private readonly ranges: Range[];

  constructor({ token, allowedCidrs }: MetricsConfig) {
    this.tokenDigest = token === null ? null : digest(token);
    this.ranges = allowedCidrs.map((entry) =>
      entry.includes('/') ? ipaddr.parseCIDR(entry) : hostRange(ipaddr.parse(entry)),
    );
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    if (this.ranges.length > 0 && !this.allows(request.ip)) {
      throw new AppException(ErrorCode.Forbidden, 'This address may not read metrics');
    }
    if (this.tokenDigest && !this.hasToken(request.headers.authorization)) {
      throw new AppException(ErrorCode.Unauthorized, 'A valid metrics bearer token is required');
    }
    return true;
  }

  private hasToken(header: string | undefined): boolean {
    const match = /^Bearer (\S+)$/i.exec(header ?? '');
    if (!match) return false;
    // Both sides hashed to 32 bytes first: timingSafeEqual needs equal lengths, and comparing digests in
    // constant time leaks neither the token's content nor its length.
    return timingSafeEqual(digest(match[1]), this.tokenDigest!);
  }

  private allows(ip: string): boolean {
    if (!ipaddr.isValid(ip)) return false;
    // "::ffff:10.0.0.1" (a dual-stack socket's view of an IPv4 client) is matched as 10.0.0.1.
    const address = ipaddr.process(ip);
    return this.ranges.some(
      ([range, bits]) => address.kind() === range.kind() && address.match([range, bits] as never),
    );
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function hostRange(address: ipaddr.IPv4 | ipaddr.IPv6): Range {
  const processed = address.kind() === 'ipv6' ? ipaddr.process(address.toString()) : address;
  return [processed, processed.kind() === 'ipv4' ? 32 : 128];
}
