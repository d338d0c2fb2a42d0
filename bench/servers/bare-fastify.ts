/**
 * Baseline server for the HTTP benches: bare Fastify answering the health JSON and a heartbeat-shaped PUT,
 * nothing else. Prints `{"url": …}` once listening; runs until killed.
 */
import Fastify from 'fastify';
import { announce } from './announce';

async function main(): Promise<void> {
  const app = Fastify();
  app.get('/api/v1/health', () => ({
    status: 'healthy',
    version: '0.0.0',
    timestamp: new Date().toISOString(),
  }));
  app.put('/api/v1/nodes/:node_id/heartbeat', (request) => ({
    message: 'Heartbeat received',
    node_id: (request.params as { node_id: string }).node_id,
    timestamp: new Date().toISOString(),
    health_score: 50,
    node_status: 'online',
    active_tasks: 0,
    heartbeat_interval_secs: 15,
  }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  announce({ url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` });
}

void main();
