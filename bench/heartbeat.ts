import { NestFastifyApplication } from '@nestjs/platform-fastify';
import Fastify from 'fastify';
import { measureRpsFromChild } from './support/child-load';

const TELEMETRY = JSON.stringify({
  cpu_usage: 21.5,
  memory_usage: 40,
  network_latency_ms: 12,
  active_tasks: 1,
});

/** A node of a fresh account, registered through the app (in-process), and its node key. */
async function registerBenchNode(app: NestFastifyApplication): Promise<{ nodeId: string; nodeKey: string }> {
  const nodeId = `bench-${Date.now().toString(36)}`;
  const account = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    payload: { username: `bench_${Date.now()}`, password: 'bench password 123' },
  });
  const node = await app.inject({
    method: 'POST',
    url: '/api/v1/nodes',
    headers: { 'x-api-key': account.json<{ api_key: string }>().api_key },
    payload: {
      node_id: nodeId,
      region: 'bench',
      node_type: 'compute',
      capabilities: { bandwidth_mbps: 1000, cpu_cores: 8, memory_gb: 16, gpu_available: false },
    },
  });
  if (node.statusCode !== 201) throw new Error(`node registration failed: ${node.body}`);
  return { nodeId, nodeKey: node.json<{ node_api_key: string }>().node_api_key };
}

/**
 * The heartbeat row of bench:http: `PUT /nodes/:id/heartbeat` with a node key and telemetry (authentication,
 * guards, validation, scoring and the database write) against bare Fastify answering a PUT with a JSON body
 * of the same shape. Both are loaded from a child process, in interleaved rounds; prints each round's ratio.
 */
export async function heartbeatRow(
  app: NestFastifyApplication,
  database: string,
  { requests, concurrency, rounds }: { requests: number; concurrency: number; rounds: number },
): Promise<void> {
  const bare = Fastify();
  bare.put('/api/v1/nodes/:node_id/heartbeat', (request) => ({
    message: 'Heartbeat received',
    node_id: (request.params as { node_id: string }).node_id,
    timestamp: new Date().toISOString(),
    health_score: 50,
    node_status: 'online',
    active_tasks: 0,
    heartbeat_interval_secs: 15,
  }));
  await bare.listen({ port: 0, host: '127.0.0.1' });
  const { nodeId, nodeKey } = await registerBenchNode(app);
  const path = `/api/v1/nodes/${nodeId}/heartbeat`;
  const bareUrl = `http://127.0.0.1:${(bare.server.address() as { port: number }).port}${path}`;
  const appUrl = `${await app.getUrl()}${path}`;
  const load = (url: string, count = requests) =>
    measureRpsFromChild({
      url,
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-api-key': nodeKey },
      body: TELEMETRY,
      requests: count,
      concurrency,
    });
  await load(bareUrl, 1000); // warm-up both
  await load(appUrl, 1000);
  const ratios: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const bareRps = await load(bareUrl);
    const appRps = await load(appUrl);
    ratios.push(appRps / bareRps);
    console.log(
      `heartbeat (${database}) round ${round}: bare ${bareRps.toFixed(0)} req/s, vcp ${appRps.toFixed(0)} req/s, ` +
        `ratio ${(appRps / bareRps).toFixed(2)}`,
    );
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(
    `heartbeat (${database}) ratio vcp/bare: median ${sorted[Math.floor(sorted.length / 2)].toFixed(2)}, ` +
      `range ${sorted[0].toFixed(2)}–${sorted[sorted.length - 1].toFixed(2)} ` +
      `(${requests} requests × ${rounds} rounds, concurrency ${concurrency}; target ≥ ${database === 'PGlite' ? '0.15' : '0.20'})`,
  );
  await bare.close();
}
