import { ConnectionDraining } from '../../src/common/http/connection-draining';
import { useTestApp } from '../support/app';
import { LogCapture } from '../support/log-capture';
import { ProbeModule } from '../support/probe.module';

/**
 * The level of a request line: a 503 the server answers on purpose to shed load (here: shutting down; a full
 * run queue, the stream cap and the proof queue answer the same way) is a warning like a 429, while a 503 from a
 * failing dependency and a 500 stay errors.
 */
describe('request line levels of 503s', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    database: 'pglite',
    env: { LOG_LEVEL: 'info' },
    logDestination: logs,
    extraModules: [ProbeModule],
  });
  const lineOf = (res: { headers: Record<string, unknown> }) =>
    logs.onlyLine((line) => line.request_id === res.headers['x-request-id'] && line.route !== undefined);

  it('a failing dependency’s 503 and a 500 are errors', async () => {
    const down = await ctx.app.inject({ method: 'GET', url: '/api/v1/probe/unavailable' });
    expect(down.statusCode).toBe(503);
    expect(await lineOf(down)).toMatchObject({ level: 50, msg: 'request errored', res: { statusCode: 503 } });
    const boom = await ctx.app.inject({ method: 'GET', url: '/api/v1/probe/boom' });
    expect(boom.statusCode).toBe(500);
    expect(await lineOf(boom)).toMatchObject({ level: 50, msg: 'request errored' });
  });

  it('the shutdown’s 503 shutting_down is a warning, with no error attached', async () => {
    ctx.app.get(ConnectionDraining).begin();
    const res = await ctx.app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ error: 'service_unavailable', reason: 'shutting_down' });
    const line = await lineOf(res);
    expect(line).toMatchObject({ level: 40, msg: 'request completed', res: { statusCode: 503 } });
    expect(line).not.toHaveProperty('err');
  });
});
