import { Injectable } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { onClientErrorAnswered } from '../common/http/client-errors';
import { onRouterErrorAnswered } from '../common/http/framework-errors';
import { onClosedByClient } from '../common/http/closed-by-client';
import { longLivedKindOf } from '../common/http/long-lived';
import { RouteTemplates } from '../common/http/route-templates';
import { VcpMetrics } from './vcp-metrics';

/**
 * Records `http_request_duration`, `http_request_count` and `http_errors` for every response. It is a Fastify
 * onResponse hook rather than a Nest interceptor alone, because only here is every path seen with its final
 * status: handlers, errors thrown by guards and pipes, the exception filter's answers, 404s for paths that
 * match no route, and bodies refused by the parser before Nest runs. `route` is Fastify's matched template
 * (`/api/v1/tasks/:task_id`; for a 405, the template of its path: RouteTemplates), or "unmatched", never the
 * raw path. Requests Node's HTTP parser refused (400, 408, 431: no Fastify request, no hook) are counted from
 * answerClientError, without a duration, under the template their method and URL match, else "unmatched".
 * Long polls and event streams (`@LongLived` routes) are observed in `http_long_request_duration_seconds`
 * instead of `http_request_duration`. A request whose client closed the connection first is counted too,
 * until the moment it left (status 499 if nothing was sent yet).
 */
@Injectable()
export class HttpMetricsHook {
  constructor(private readonly metrics: VcpMetrics) {}

  register(app: NestFastifyApplication): void {
    const fastify = app.getHttpAdapter().getInstance();
    const templates = RouteTemplates.of(fastify);
    const observe = (request: FastifyRequest, reply: FastifyReply, status = reply.statusCode) => {
      const route = request.routeOptions;
      this.metrics.observeHttp(
        request.method,
        templates.labelOf(request, route.url, status),
        status,
        reply.elapsedTime / 1000,
        longLivedKindOf(request, route.config, status) !== undefined,
      );
    };
    fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      observe(request, reply);
      done();
    });
    onRouterErrorAnswered(fastify, (request, reply) => observe(request, reply));
    onClosedByClient(fastify, observe);
    onClientErrorAnswered(fastify, (refused) =>
      this.metrics.countHttp(
        refused.method,
        templates.templateOf(refused.method, refused.url),
        refused.status,
      ),
    );
  }
}
