import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { useTestApp } from '../support/app';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { eventually } from '../support/eventually';
import { LogCapture } from '../support/log-capture';
import { scrape, valueOf } from '../support/prometheus';
import { submitTask } from '../support/tasks';
import { fixture, sha256 } from '../support/wasm';

const RUN_ROUTE = '/api/v1/modules/:module_id/run';
const HEALTH_ROUTE = '/api/v1/health';

/**
 * A request of an ordinary route whose client leaves before the answer (a caller's timeout on a slow module
 * run) never reaches Fastify's onResponse hooks: the response is written to a closed socket. It is logged and
 * counted when the connection closes, once, and a connection closed while idle adds nothing.
 */
describe('requests whose client left before the answer', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    database: 'pglite',
    env: { LOG_LEVEL: 'info', WASM_DEFAULT_RUNTIME: 'v8', WASM_TIMEOUT_SECS: '5' },
    logDestination: logs,
  });
  let alice: Session;
  let port: number;
  const loop = fixture('loop');

  beforeAll(async () => {
    alice = await newSession(ctx.app, 'leaver');
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...apiKeyHeader(alice.apiKey), 'content-type': 'application/wasm' },
      payload: loop,
    });
    expect(upload.statusCode).toBe(201);
    await ctx.app.listen(0, '127.0.0.1');
    port = (ctx.app.getHttpServer().address() as AddressInfo).port;
  });

  const open = async (): Promise<Socket> => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    return socket;
  };
  const send = (socket: Socket, text: string) =>
    new Promise<void>((resolve, reject) =>
      socket.write(text, (error) => (error ? reject(error) : resolve())),
    );
  const runRequest = (requestId: string) => {
    const body = JSON.stringify({ inputs: null, timeout_ms: 1500 });
    return (
      `POST /api/v1/modules/${sha256(loop)}/run HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\n` +
      `X-Api-Key: ${alice.apiKey}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    );
  };
  const healthRequest = (requestId: string) =>
    `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\n\r\n`;
  const counted = async (route: string, status: string) => {
    const { samples } = await scrape(ctx.app);
    const labels = { method: route === RUN_ROUTE ? 'POST' : 'GET', route, status_code: status };
    return {
      requests: valueOf(samples, 'http_request_count', labels),
      timed: valueOf(samples, 'http_request_duration_count', labels),
    };
  };
  const timedOutRuns = async () =>
    valueOf((await scrape(ctx.app)).samples, 'wasm_execution_duration_seconds_count', {
      runtime: 'v8',
      outcome: 'timeout',
    });
  const linesOf = (requestId: string) => logs.parsed().filter((line) => line.request_id === requestId);

  it('logs (warn, closed_by_client, 499) and counts a module run its caller left, once, when it leaves', async () => {
    const [before, runsBefore] = [await counted(RUN_ROUTE, '499'), await timedOutRuns()];
    const requestId = randomUUID();
    const socket = await open();
    await send(socket, runRequest(requestId));
    socket.destroy();

    const line = await logs.completedLine(requestId);
    expect(line).toMatchObject({
      level: 40,
      route: RUN_ROUTE,
      req: { method: 'POST' },
      res: { statusCode: 499 },
      closed_by_client: true,
      principal_id: alice.userId,
    });
    // Counted until the moment it left, not after the run: the run is still going (1.5 s of loop).
    expect(line.duration_ms).toBeLessThan(1500);
    expect(await counted(RUN_ROUTE, '499')).toEqual({
      requests: before.requests + 1,
      timed: before.timed + 1,
    });

    // The run ends and its answer goes to the closed socket: no second line, no second count.
    await eventually(async () => expect(await timedOutRuns()).toBe(runsBefore + 1), { timeoutMs: 10_000 });
    expect(linesOf(requestId)).toHaveLength(1);
    expect(await counted(RUN_ROUTE, '499')).toEqual({
      requests: before.requests + 1,
      timed: before.timed + 1,
    });
    expect((await counted(RUN_ROUTE, '200')).requests).toBe(0);
  });

  it('watches the unanswered request of a keep-alive connection, and adds nothing when an idle one closes', async () => {
    const [answeredId, leftId, idleId] = [randomUUID(), randomUUID(), randomUUID()];
    const health = await counted(HEALTH_ROUTE, '200');

    const socket = await open();
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await send(socket, healthRequest(answeredId));
    await eventually(() => expect(received).toContain('"status":"healthy"'));
    await send(socket, runRequest(leftId));
    socket.destroy();

    expect(await logs.completedLine(leftId)).toMatchObject({
      res: { statusCode: 499 },
      closed_by_client: true,
    });
    expect(await logs.completedLine(answeredId)).toMatchObject({ res: { statusCode: 200 } });
    expect(linesOf(answeredId)).toHaveLength(1);

    // A connection whose last request was answered closes: one line (its 200), nothing more.
    const idle = await open();
    const closed = new Promise((resolve) => idle.once('close', resolve));
    let idleReceived = '';
    idle.on('data', (chunk: Buffer) => (idleReceived += chunk.toString()));
    await send(idle, healthRequest(idleId));
    await eventually(() => expect(idleReceived).toContain('"status":"healthy"'));
    await logs.completedLine(idleId);
    idle.destroy();
    await closed;
    // The server sees the close after the client's own: wait until its connection count drops.
    await eventually(async () => {
      const connections = await new Promise<number>((resolve, reject) =>
        ctx.app.getHttpServer().getConnections((error, count) => (error ? reject(error) : resolve(count))),
      );
      expect(connections).toBe(0);
    });
    expect(linesOf(idleId)).toEqual([expect.objectContaining({ res: { statusCode: 200 } })]);
    expect(logs.parsed().filter((l) => l.closed_by_client === true && l.route === HEALTH_ROUTE)).toEqual([]);
    expect((await counted(HEALTH_ROUTE, '200')).requests).toBe(health.requests + 2);
    expect((await counted(HEALTH_ROUTE, '499')).requests).toBe(0);
  });

  it('answers the requests pipelined before a malformed one first, then its 400, then closes the connection', async () => {
    const [runId, healthId] = [randomUUID(), randomUUID()];
    const socket = await open();
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    // One write: the parser refuses the third request while the first runs (1.5 s of loop).
    await send(
      socket,
      `${runRequest(runId)}${healthRequest(healthId)}GET /api/v1/health HTTP/1.1\r\nBad Header\r\n\r\n`,
    );
    await closed;
    expect(received.match(/HTTP\/1.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(received).toContain(`x-request-id: ${runId}`);
    expect(received).toMatch(/"error":"bad_request"[^]*$/);
    // Answered, not left: no 499 and no closed_by_client for either.
    expect(await logs.completedLine(runId)).toMatchObject({ res: { statusCode: 200 } });
    expect(await logs.completedLine(healthId)).toMatchObject({ res: { statusCode: 200 } });
    expect([...linesOf(runId), ...linesOf(healthId)].filter((line) => line.closed_by_client)).toEqual([]);
    // The refused request's line names its own request line, not the first one of the packet (the run).
    const refusedId = /"request_id":"([^"]+)"[^]*$/.exec(received)![1];
    expect(await logs.completedLine(refusedId)).toMatchObject({
      res: { statusCode: 400 },
      req: { method: 'GET', url: '/api/v1/health' },
    });
  });

  /** An event stream on a fresh connection, its first event received; a valid request pipelined behind it. */
  const streamWithPipelinedRequest = async () => {
    const task = await submitTask(ctx.app, bearer(alice.accessToken));
    const socket = await open();
    const state = { received: '' };
    socket.on('data', (chunk: Buffer) => (state.received += chunk.toString('latin1')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const streamId = randomUUID();
    await send(
      socket,
      `GET /api/v1/tasks/${task.task_id}/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n` +
        `X-Request-Id: ${streamId}\r\nAuthorization: Bearer ${alice.accessToken}\r\n\r\n`,
    );
    await eventually(() => expect(state.received).toMatch(/^HTTP\/1.1 200 [^]*\r\n\r\n[^]*data:/));
    // Answered by the app at once, but queued behind the stream: it has ended, it has not finished.
    const queuedId = randomUUID();
    const server = ctx.app.getHttpServer();
    const queued = new Promise<ServerResponse>((resolve) =>
      server.on('request', function seen(request: IncomingMessage, response: ServerResponse) {
        if (request.headers['x-request-id'] !== queuedId) return;
        server.off('request', seen);
        resolve(response);
      }),
    );
    await send(socket, healthRequest(queuedId));
    const response = await queued;
    await eventually(() =>
      expect([response.writableEnded, response.writableFinished]).toEqual([true, false]),
    );
    return { socket, state, closed, streamId, queuedId };
  };

  it("never writes a refused request's answer into a response being streamed, also behind a pipelined request", async () => {
    const { socket, state, closed } = await streamWithPipelinedRequest();
    await send(socket, 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    await closed;
    // The connection is closed (it cannot go on), the stream's bytes are the only ones sent.
    expect(state.received.match(/HTTP\/1.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
  });

  it('logs and counts a stream its reader left with a pipelined request behind it', async () => {
    const { socket, streamId } = await streamWithPipelinedRequest();
    socket.destroy();
    expect(await logs.completedLine(streamId)).toMatchObject({
      level: 30,
      res: { statusCode: 200 },
      closed_by_client: true,
    });
  });
});
