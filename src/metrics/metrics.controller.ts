import { Controller, Get, Header, Res, UseGuards } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { PrometheusController } from '@willsoto/nestjs-prometheus';
import type { FastifyReply } from 'fastify';
import { Registry } from 'prom-client';
import { Public } from '../common/auth/public.decorator';
import { NoRateLimit } from '../common/auth/rate-tier.decorator';
import { IgnoresQuery } from '../common/http/unknown-input.guard';
import { MetricsAccessGuard } from './metrics-access.guard';

/**
 * `GET /metrics` (outside `/api/v1`, where scrapers look), in Prometheus text format. Not a user route: no
 * JWT or API key and no rate tier; MetricsAccessGuard checks the scrape token and allowed addresses instead.
 * It serves this app's own registry, so two apps in one process never mix their numbers.
 */
@ApiExcludeController()
@Public()
@NoRateLimit()
@IgnoresQuery()
@UseGuards(MetricsAccessGuard)
@Controller()
export class MetricsController extends PrometheusController {
  constructor(private readonly registry: Registry) {
    super();
  }

  @Get()
  @Header('Cache-Control', 'no-store')
  override async index(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.header('Content-Type', this.registry.contentType);
    return this.registry.metrics();
  }
}
