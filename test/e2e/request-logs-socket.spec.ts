import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { useTestApp } from '../support/app';
import { LogCapture } from '../support/log-capture';

/** Writes `request` on a raw socket and collects what the server sends until it closes the connection. */
function rawExchange(port: number, request: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset after the answer is read is not a failure here
    socket.on('close', () => resolve(text));
    socket.on('connect', () => socket.write(request));
    setTimeout(() => reject(new Error(`no close within 20 s; got ${text}`)), 20_000).unref();
  });
}

const METRICS_TOKEN = 'request-logs-socket-metrics-token-0123456789';

const requestIdOf = (answer: string) => /\r\nx-request-id: *([^\r]+)/i.exec(answer)?.[1];

/** Request lines of requests that came over a real socket, byte for byte as a client may send them. */
describe('request lines over a real socket', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    database: 'pglite',
    env: { LOG_LEVEL: 'info', HTTP_REQUEST_TIMEOUT_MS: '1000', METRICS_TOKEN },
    logDestination: logs,
  });
  let port: number;

  beforeAll(async () => {
    await ctx.app.listen(0, '127.0.0.1');
    port = (ctx.app.getHttpServer().address() as AddressInfo).port;
  });

  it('escapes C1 control characters of a header value (Node reads bytes 0x80-0xFF as Latin-1)', async () => {
    const request = Buffer.concat([
      Buffer.from('GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: evil'),
      Buffer.from([0x9b, 0x33, 0x31, 0x6d, 0x85]),
      Buffer.from('tail\r\n\r\n'),
    ]);
    const answer = await rawExchange(port, request);
    expect(answer).toMatch(/^HTTP\/1.1 200 /);
    const line = await logs.completedLine(requestIdOf(answer));
    expect((line.req as { headers: Record<string, string> }).headers['user-agent']).toBe(
      'evil\\u009b31m\\u0085tail',
    );
    expect(logs.lines.find((text) => text.includes(requestIdOf(answer)!))).not.toMatch(/[\u0080-\u009f]/);
  });

  /** `http_request_count` and `http_errors` by method, route and status ("name METHOD route status"). */
  const httpCounts = async () => {
    const scrape = await ctx.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const counts: Record<string, number> = {};
    for (const [, name, method, route, status, value] of scrape.body.matchAll(
      /^(http_request_count|http_errors)\{method="(\w+)",route="([^"]+)",status_code="(\d+)"\} (\d+)$/gm,
    ))
      counts[`${name} ${method} ${route} ${status}`] = Number(value);
    return counts;
  };

  it('logs and counts each request the HTTP parser refused (431, 400, 408), with what is known of it', async () => {
    const before = await httpCounts();
    const key = 'vcp_' + 'K'.repeat(46);
    const answers = {
      tooLarge: await rawExchange(
        port,
        `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      ),
      malformed: await rawExchange(
        port,
        `GET /api/v1/health?api_key=${key} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`,
      ),
      // The head arrived, the body never does: Node's request timeout, the request known to the parser.
      bodyTimeout: await rawExchange(
        port,
        `POST /api/v1/auth/login?token=t0ps3cret HTTP/1.1\r\nHost: x\r\nX-Auth-Token: t0ps3cret\r\n` +
          `Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a`,
      ),
      headTimeout: await rawExchange(port, 'GET /api/v1/heal'),
    };
    // The route its method and URL match, when the parser got that far; "unmatched" when it did not.
    const expected = {
      tooLarge: [431, 'HPE_HEADER_OVERFLOW', '/api/v1/health'],
      malformed: [400, 'HPE_INVALID_HEADER_TOKEN', '/api/v1/health'],
      bodyTimeout: [408, 'ERR_HTTP_REQUEST_TIMEOUT', '/api/v1/auth/login'],
      headTimeout: [408, 'ERR_HTTP_REQUEST_TIMEOUT', 'unmatched'],
    } as const;
    const lines: Record<string, Record<string, unknown>> = {};
    for (const [name, answer] of Object.entries(answers)) {
      const [status, code, route] = expected[name as keyof typeof expected];
      expect({ name, status: Number(answer.split(' ')[1]) }).toEqual({ name, status });
      lines[name] = await logs.completedLine(requestIdOf(answer));
      expect(lines[name]).toMatchObject({
        level: 40,
        route,
        principal_id: null,
        client_error: code,
        res: { statusCode: status },
        req: { id: requestIdOf(answer), remoteAddress: '127.0.0.1' },
      });
    }
    expect(lines.malformed.req).toMatchObject({ method: 'GET', url: '/api/v1/health?api_key=[redacted]' });
    expect(lines.bodyTimeout.req).toMatchObject({
      method: 'POST',
      url: '/api/v1/auth/login?token=[redacted]',
      headers: { 'x-auth-token': '[redacted]', 'content-length': '100' },
    });
    expect(lines.headTimeout.req).not.toHaveProperty('method');
    expect(logs.text).not.toContain(key);
    expect(logs.text).not.toContain('t0ps3cret');

    const after = await httpCounts();
    const grew = (series: string) => (after[series] ?? 0) - (before[series] ?? 0);
    expect({
      count431: grew('http_request_count GET /api/v1/health 431'),
      count400: grew('http_request_count GET /api/v1/health 400'),
      count408: grew('http_request_count POST /api/v1/auth/login 408'),
      errors408: grew('http_errors POST /api/v1/auth/login 408'),
      unmatched408: grew('http_request_count OTHER unmatched 408'),
    }).toEqual({ count431: 1, count400: 1, count408: 1, errors408: 1, unmatched408: 1 });
  });

  it('a body sent on past its 413 and then cut off is one request: one answer, one line, one count', async () => {
    const before = await httpCounts();
    // The head says 3 MB (over BODY_LIMIT_BYTES): the 413 goes out at once; the client sends 100 KB more, then
    // closes its side mid-body, which Node's parser reports as a malformed request (HPE_INVALID_EOF_STATE).
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        const first = text === '';
        text += chunk.toString('latin1');
        if (first) socket.end(Buffer.alloc(100_000, 0x61));
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(text));
      socket.on('connect', () =>
        socket.write(
          'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            'Content-Length: 3000000\r\n\r\n{"username":"',
        ),
      );
      setTimeout(() => reject(new Error(`no close within 20 s; got ${text}`)), 20_000).unref();
    });
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413']);
    const requestId = requestIdOf(answer)!;
    expect(await logs.completedLine(requestId)).toMatchObject({ res: { statusCode: 413 } });
    // Give a second line every chance to be written: the connection has closed, and the app's own 413 line is in.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(logs.lines.filter((line) => line.includes(requestId) && line.includes('"res"'))).toHaveLength(1);
    const after = await httpCounts();
    const grew = (series: string) => (after[series] ?? 0) - (before[series] ?? 0);
    expect({
      count413: grew('http_request_count POST /api/v1/auth/login 413'),
      count400: grew('http_request_count POST /api/v1/auth/login 400'),
    }).toEqual({ count413: 1, count400: 0 });
  });

  it('answers, logs and counts a refusal on a keep-alive connection after answered requests (431, 408)', async () => {
    const before = await httpCounts();
    /** Two answered requests on one connection, then `refused`: what the server sent after the second answer. */
    const afterTwoAnswers = (refused: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        const health = 'GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n';
        let [text, sent, refusedAt] = ['', 1, -1];
        socket.on('data', (chunk: Buffer) => {
          const answered = (text += chunk.toString('latin1')).split('"status":"healthy"').length - 1;
          if (answered === sent && sent < 2) {
            sent += 1;
            socket.write(health);
          } else if (answered === 2 && refusedAt < 0) {
            refusedAt = text.length;
            socket.write(refused);
          }
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(refusedAt < 0 ? `(never refused) ${text}` : text.slice(refusedAt)));
        socket.on('connect', () => socket.write(health));
        setTimeout(() => reject(new Error(`no close within 20 s; got ${text}`)), 20_000).unref();
      });
    const answers = {
      tooLarge: await afterTwoAnswers(
        `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      ),
      bodyTimeout: await afterTwoAnswers(
        'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: 100\r\n\r\n{"a',
      ),
    };
    for (const [name, status, route] of [
      ['tooLarge', 431, '/api/v1/health'],
      ['bodyTimeout', 408, '/api/v1/auth/login'],
    ] as const) {
      const answer = answers[name];
      expect({ name, head: answer.split('\r\n')[0] }).toEqual({
        name,
        head: expect.stringMatching(`^HTTP/1.1 ${status} `),
      });
      const requestId = requestIdOf(answer);
      expect(JSON.parse(answer.split('\r\n\r\n')[1])).toMatchObject({ request_id: requestId });
      expect(await logs.completedLine(requestId)).toMatchObject({
        level: 40,
        route,
        res: { statusCode: status },
      });
    }
    const after = await httpCounts();
    const grew = (series: string) => (after[series] ?? 0) - (before[series] ?? 0);
    expect({
      health200: grew('http_request_count GET /api/v1/health 200'),
      health431: grew('http_request_count GET /api/v1/health 431'),
      login408: grew('http_request_count POST /api/v1/auth/login 408'),
    }).toEqual({ health200: 4, health431: 1, login408: 1 });
  });

  it('answers an Expect other than 100-continue with the API 417, a request id and the security headers; logs and counts it', async () => {
    const before = await httpCounts();
    const answer = await rawExchange(
      port,
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nExpect: fancy\r\nContent-Type: application/json\r\n' +
        'Content-Length: 2\r\n\r\n',
    );
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1.1 417 Expectation Failed\r\n/);
    const requestId = requestIdOf(answer);
    expect(JSON.parse(body)).toEqual({
      error: 'bad_request',
      message: expect.any(String),
      request_id: requestId,
    });
    for (const header of [
      'content-type: application/json; charset=utf-8',
      'cache-control: no-store',
      "content-security-policy: default-src 'none'",
      'x-content-type-options: nosniff',
      'strict-transport-security: max-age=',
    ])
      expect(head.toLowerCase()).toContain(header);
    expect(await logs.completedLine(requestId)).toMatchObject({
      level: 40,
      route: '/api/v1/auth/login',
      client_error: 'EXPECTATION_FAILED',
      res: { statusCode: 417 },
      req: { method: 'POST', url: '/api/v1/auth/login', headers: { expect: 'fancy' } },
    });
    // 100-continue is still Node's to answer, and the route runs (negative control).
    const login = '{"username":"nobody_here","password":"not the password"}';
    const continued = await rawExchange(
      port,
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n' +
        `Content-Type: application/json\r\nContent-Length: ${login.length}\r\n\r\n${login}`,
    );
    expect(continued).toMatch(/^HTTP\/1.1 100 Continue\r\n\r\nHTTP\/1.1 401 /);
    const after = await httpCounts();
    const series = 'http_request_count POST /api/v1/auth/login 417';
    expect((after[series] ?? 0) - (before[series] ?? 0)).toBe(1);
  });

  it("treats a body the client cut off as a client abort (info) under the request line's id, never as the database being unavailable", async () => {
    const marker = `abort-${Date.now()}`;
    const before = logs.lines.length;
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    // The head and part of the body, then the connection closes (its FIN after them, once they are sent).
    await new Promise<void>((resolve, reject) =>
      socket.write(
        `POST /api/v1/auth/login?m=${marker} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
          'Content-Length: 100\r\n\r\n{"username":',
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    socket.destroy();
    // Node refuses the unfinished message (HPE_INVALID_EOF_STATE): that 400 is the request's line; the app's
    // body parser fails too, and its "client aborted" line carries the same request id.
    const line = await logs.onlyLine((entry) =>
      String((entry.req as { url?: string } | undefined)?.url).includes(marker),
    );
    expect(line).toMatchObject({ client_error: 'HPE_INVALID_EOF_STATE', res: { statusCode: 400 } });
    const aborted = await logs.onlyLine(
      (entry) => entry.msg === 'client aborted' && entry.request_id === line.request_id,
    );
    expect(aborted).toMatchObject({ level: 30, context: 'ExceptionFilter' });
    const after = logs.lines.slice(before).join('\n');
    expect(after).not.toContain('database unavailable');
    expect(after).not.toContain('"statusCode":503');
  });

  it("keeps a caller's X-Request-Id (a UUID) on the 408 of a body that never came", async () => {
    const requestId = randomUUID();
    const answer = await rawExchange(
      port,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${requestId}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a',
    );
    expect(answer).toMatch(/^HTTP\/1.1 408 /);
    expect(requestIdOf(answer)).toBe(requestId);
    expect(JSON.parse(answer.split('\r\n\r\n')[1])).toMatchObject({ request_id: requestId });
    expect(await logs.completedLine(requestId)).toMatchObject({ res: { statusCode: 408 } });
  });
});
