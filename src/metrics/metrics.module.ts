import { DynamicModule, Global, Module } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { Registry } from 'prom-client';
import { HttpMetricsHook } from './http-metrics.hook';
import { MetricsAccessGuard } from './metrics-access.guard';
import { MetricsController } from './metrics.controller';
import { VcpMetrics } from './vcp-metrics';

/**
 * Prometheus metrics. Each app gets its own prom-client Registry (default process metrics included) instead of
 * the library's global one, so two apps in one process neither fail on "already registered" nor count each
 * other's requests. Global: any module injects VcpMetrics and calls it where its events happen.
 */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(): DynamicModule {
    const registry = new Registry();
    return {
      module: MetricsModule,
      imports: [
        PrometheusModule.register({
          controller: MetricsController,
          path: '/metrics',
          defaultMetrics: { enabled: true, config: { register: registry } },
        }),
      ],
      providers: [
        { provide: Registry, useValue: registry },
        { provide: VcpMetrics, useValue: new VcpMetrics(registry) },
        MetricsAccessGuard,
        HttpMetricsHook,
      ],
      exports: [Registry, VcpMetrics, MetricsAccessGuard, HttpMetricsHook],
    };
  }
}
