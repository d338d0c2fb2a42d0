/**
 * Baseline server for the HTTP benches: a minimal Nest 11 app on the Fastify adapter (no logger, no guards, no
 * hooks) answering the same health JSON and heartbeat-shaped PUT as bare-fastify.ts. What any Nest app costs,
 * so VCP's own pipeline can be judged against it. Prints `{"url": …}`; runs until killed.
 */
import 'reflect-metadata';
import { Body, Controller, Get, Module, Param, Put } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { announce } from './announce';

@Controller()
class MinimalController {
  @Get('health')
  health() {
    return { status: 'healthy', version: '0.0.0', timestamp: new Date().toISOString() };
  }

  @Put('nodes/:node_id/heartbeat')
  heartbeat(@Param('node_id') nodeId: string, @Body() _body: unknown) {
    return {
      message: 'Heartbeat received',
      node_id: nodeId,
      timestamp: new Date().toISOString(),
      health_score: 50,
      node_status: 'online',
      active_tasks: 0,
      heartbeat_interval_secs: 15,
    };
  }
}

@Module({ controllers: [MinimalController] })
class MinimalModule {}

async function main(): Promise<void> {
  const app = await NestFactory.create<NestFastifyApplication>(MinimalModule, new FastifyAdapter(), {
    logger: false,
  });
  app.setGlobalPrefix('api/v1');
  await app.listen(0, '127.0.0.1');
  announce({ url: (await app.getUrl()).replace('[::1]', '127.0.0.1') });
}

void main();
