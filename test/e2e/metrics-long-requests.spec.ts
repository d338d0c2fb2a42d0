import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { TestAgent } from '../support/agent';
import { useTestApp } from '../support/app';
import { bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { LogCapture } from '../support/log-capture';
import { Sample, scrape, seriesKey } from '../support/prometheus';
import { SseClient } from '../support/sse';
import { submitTask } from '../support/tasks';

const CLAIM = '/api/v1/nodes/:node_id/claim';
const EVENTS = '/api/v1/tasks/:task_id/events';
const GROWING = [
  'http_request_count',
  'http_errors',
  'http_request_duration_count',
  'http_long_request_duration_seconds_count',
];

/** How much each counted series of the claim and events routes grew between two scrapes (only those that did). */
function growth(before: Sample[], after: Sample[]): Record<string, number> {
  const previous = new Map(before.map((s) => [seriesKey(s), s.value]));
  const grown: Record<string, number> = {};
  for (const sample of after) {
    if (!GROWING.includes(sample.name) || ![CLAIM, EVENTS].includes(sample.labels.route)) continue;
    const delta = sample.value - (previous.get(seriesKey(sample)) ?? 0);
    if (delta !== 0) grown[`${sample.name} ${sample.labels.method} ${sample.labels.status_code}`] = delta;
  }
  return grown;
}

/**
 * A long poll's or an event stream's duration is how long its client waited or listened: it would fill the
 * +Inf bucket of the request-latency histogram. They go to their own histogram, and are still counted.
 */
describe('long polls and event streams in the HTTP metrics', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({ database: 'pglite', env: { LOG_LEVEL: 'info' }, logDestination: logs });
  let alice: Session;
  let agent: TestAgent;
  let baseUrl: string;

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'alice');
    agent = await TestAgent.register(ctx.app, bearer(alice.accessToken));
    await ctx.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(ctx.app.getHttpServer().address() as AddressInfo).port}`;
  });

  const openStream = async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const client = new SseClient(`${baseUrl}/api/v1/tasks/${task.task_id}/events`, bearer(alice.accessToken));
    expect((await client.response).statusCode).toBe(200);
    await eventually(() => expect(client.received.messages.length).toBeGreaterThan(0));
    return { task, client };
  };

  it('observes them in http_long_request_duration_seconds, not in http_request_duration, and counts them all', async () => {
    const before = (await scrape(ctx.app)).samples;

    expect((await agent.claimRaw({ max: 1, wait_ms: 0 })).statusCode).toBe(204); // no wait: an ordinary request
    expect((await agent.claimRaw({ max: 1 })).statusCode).toBe(204);
    expect((await agent.claimRaw({ max: 1, wait_ms: 200 })).statusCode).toBe(204);
    expect((await agent.claimRaw({ max: 1, wait_ms: 25_001 })).statusCode).toBe(422); // refused before any wait
    await agent.abandonClaim(baseUrl);

    const ended = await openStream();
    const cancel = await ctx.app.inject({
      method: 'POST',
      url: `/api/v1/tasks/${ended.task.task_id}/cancel`,
      headers: bearer(alice.accessToken),
    });
    expect(cancel.statusCode).toBe(200);
    await ended.client.ended;
    const left = await openStream();
    left.client.close();
    await left.client.ended;

    const streamLine = await logs.completedLine((await left.client.response).headers['x-request-id']);
    expect(streamLine).toMatchObject({
      level: 30,
      route: EVENTS,
      res: { statusCode: 200 },
      closed_by_client: true,
    });
    const pollLine = await logs.onlyLine(
      (line) => line.route === CLAIM && (line.res as { statusCode: number }).statusCode === 499,
    );
    expect(pollLine).toMatchObject({ level: 30, closed_by_client: true, msg: 'request completed' });

    const after = await eventually(async () => {
      const exposition = await scrape(ctx.app);
      expect(growth(before, exposition.samples)).toEqual({
        'http_request_count POST 204': 3,
        'http_request_duration_count POST 204': 2,
        'http_long_request_duration_seconds_count POST 204': 1,
        'http_request_count POST 422': 1,
        'http_errors POST 422': 1,
        'http_request_duration_count POST 422': 1,
        // The agent left mid-poll: nothing was sent, nginx's "client closed request".
        'http_request_count POST 499': 1,
        'http_errors POST 499': 1,
        'http_long_request_duration_seconds_count POST 499': 1,
        // One stream ended by the server (its task cancelled), one closed by its reader.
        'http_request_count GET 200': 2,
        'http_long_request_duration_seconds_count GET 200': 2,
      });
      return exposition;
    });

    expect(after.types.get('http_long_request_duration_seconds')).toBe('histogram');
    expect(after.help.get('http_long_request_duration_seconds')).toMatch(/seconds/);
    const buckets = after.samples
      .filter((s) => s.name === 'http_long_request_duration_seconds_bucket' && s.labels.route === CLAIM)
      .filter((s) => s.labels.status_code === '204');
    const bounds = ['0.1', '0.5', '1', '2.5', '5', '10', '15', '20', '25', '30', '60', '300', '900', '1800'];
    expect(buckets.map((b) => b.labels.le)).toEqual([...bounds, '3600', '7200', '+Inf']);
    // The one poll waited its 200 ms: it is in none of the buckets below that.
    const le = (bound: string) => buckets.find((b) => b.labels.le === bound)?.value;
    expect([le('0.1'), le('+Inf')]).toEqual([0, 1]);
  });
  it("leaves a claim whose body never arrived in full to Node's parser: one 400 line and count, no 499", async () => {
    const before = (await scrape(ctx.app)).samples;
    const requestId = randomUUID();
    const socket = connect((ctx.app.getHttpServer().address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    await new Promise<void>((resolve, reject) =>
      socket.write(
        `POST /api/v1/nodes/${agent.nodeId}/claim HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\n` +
          `X-Api-Key: ${agent.node.node_api_key}\r\nContent-Type: application/json\r\n` +
          'Content-Length: 100\r\n\r\n{"max":',
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    socket.destroy();

    expect(await logs.completedLine(requestId)).toMatchObject({ res: { statusCode: 400 } });
    await logs.onlyLine((line) => line.msg === 'client aborted' && line.request_id === requestId);
    // The route's close watch ran by now (the socket closed before the parser's answer was logged).
    expect(
      logs.parsed().filter((line) => line.request_id === requestId && line.closed_by_client === true),
    ).toEqual([]);
    // Counted once, as the parser's 400 under the route its method and URL match.
    expect(growth(before, (await scrape(ctx.app)).samples)).toEqual({
      'http_request_count POST 400': 1,
      'http_errors POST 400': 1,
    });
  });
});
