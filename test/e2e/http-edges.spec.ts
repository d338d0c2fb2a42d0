import { connect } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { ServerProcess, startServer } from '../support/server-process';

const MiB = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 1500;

interface RawAnswer {
  text: string;
  /** Body bytes the client had sent when the server closed the connection. */
  sent: number;
}

/**
 * Writes `head` on a raw socket, then `body` one byte per `intervalMs` (0: all at once), and collects what
 * the server answers until it closes the connection (or, with `untilAnswer`, until one whole answer came).
 */
function rawExchange(
  port: number,
  head: string,
  body = '',
  intervalMs = 0,
  untilAnswer = false,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (untilAnswer && isWholeAnswer(text)) {
        clearInterval(timer);
        resolve({ text, sent });
        socket.destroy();
      }
    });
    socket.on('error', () => undefined); // a reset after the answer is read is not a failure here
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ text, sent });
    });
    socket.on('connect', () => {
      socket.write(head);
      if (intervalMs === 0) {
        socket.write(body);
        sent = body.length;
        return;
      }
      timer = setInterval(() => {
        if (sent >= body.length || socket.destroyed) return clearInterval(timer);
        socket.write(body[sent++]);
      }, intervalMs);
    });
    setTimeout(() => reject(new Error(`no close within 60 s; got ${text}`)), 60_000).unref();
  });
}

function isWholeAnswer(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
  return end >= 0 && length !== null && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length[1]);
}

function parseAnswer(text: string): {
  status: number;
  headers: Record<string, string>;
  json: Record<string, unknown>;
} {
  const [head, ...rest] = text.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [
      line.slice(0, line.indexOf(':')).toLowerCase(),
      line.slice(line.indexOf(':') + 1).trim(),
    ]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, json: JSON.parse(rest.join('\r\n\r\n')) };
}

function expectApiErrorAnswer(answer: ReturnType<typeof parseAnswer>, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.json).toEqual({ error: code, message: expect.any(String), request_id: expect.any(String) });
  expect(answer.headers['x-request-id']).toBe(answer.json.request_id);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(answer.headers['x-content-type-options']).toBe('nosniff');
  expect(answer.headers['x-frame-options']).toBe('DENY');
  expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
  expect(answer.headers['cache-control']).toBe('no-store');
  // Helmet's whole static set, also on answers written straight to the socket (one list, client-errors.ts).
  expect(answer.headers['strict-transport-security']).toMatch(/^max-age=/);
  expect(answer.headers['cross-origin-resource-policy']).toBe('same-origin');
}

/** Against the built server in its own process: a client in the server's own process never saw these. */
describe('HTTP edges over a real socket (oversize and slow bodies, parser errors)', () => {
  let db: TestDatabase;
  let server: ServerProcess;
  let baseUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    server = await startServer({
      DATABASE_URL: db.url,
      BODY_LIMIT_BYTES: String(MiB),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    });
    baseUrl = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('answers 5 MB to a 1 MB limit with the 413 JSON that Node fetch reads, ten times of ten', async () => {
    const body = Buffer.alloc(5 * MiB, 'y');
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      try {
        const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        outcomes.push(`${res.status} ${((await res.json()) as { error: string }).error}`);
      } catch (error) {
        outcomes.push(`failed: ${String((error as { cause?: unknown }).cause ?? error)}`);
      }
    }
    expect(outcomes).toEqual(Array(10).fill('413 payload_too_large'));
  });

  it('ends a body trickled one byte at a time with a JSON 408 before the body is complete', async () => {
    const body = JSON.stringify({ username: 'slow', password: 'x'.repeat(200) });
    const head =
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`;
    // 200 ms a byte: the whole body would take over 40 s; the server's bound is 1.5 s (checked every 150 ms).
    const answer = await rawExchange(server.port, head, body, 200);
    expect(answer.sent).toBeLessThan(body.length);
    expectApiErrorAnswer(parseAnswer(answer.text), 408, 'bad_request');
  });

  it('answers a request the HTTP parser refuses with the JSON error, a request id and the security headers', async () => {
    const malformed = await rawExchange(
      server.port,
      'GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
    );
    expectApiErrorAnswer(parseAnswer(malformed.text), 400, 'bad_request');
    const huge = await rawExchange(
      server.port,
      `GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expectApiErrorAnswer(parseAnswer(huge.text), 431, 'bad_request');
  });

  it('answers an unsupported content type with the JSON 415, a request id and the security headers', async () => {
    const body = 'username=a&password=b';
    const answer = await rawExchange(
      server.port,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
    );
    expectApiErrorAnswer(parseAnswer(answer.text), 415, 'bad_request');
  });

  it('answers JSON declared in a charset other than UTF-8 with the JSON 415 (it would be misread, not converted)', async () => {
    const login = (contentType: string) => {
      const body = '{"username":"caf\u00e9","password":"x"}';
      return rawExchange(
        server.port,
        `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n` +
          `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
        body,
      );
    };
    expectApiErrorAnswer(
      parseAnswer((await login('application/json; charset=iso-8859-1')).text),
      415,
      'bad_request',
    );
    expectApiErrorAnswer(
      parseAnswer((await login('application/json; charset="UTF-16"')).text),
      415,
      'bad_request',
    );
    // UTF-8, however spelled, reaches the route (a wrong password: 401).
    for (const type of [
      'application/json; charset=UTF-8',
      'application/json;charset=utf8',
      'application/json',
    ]) {
      expect(parseAnswer((await login(type)).text).status).toBe(401);
    }
  });

  it('answers a JSON body that is not UTF-8 with 400 naming the byte, never decoding it as U+FFFD', async () => {
    const login = (username: Buffer) =>
      fetch(`${baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat([Buffer.from('{"username":"'), username, Buffer.from('","password":"x"}')]),
      });
    const broken = await login(Buffer.from([0x61, 0xff, 0xfe, 0x62]));
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({
      error: 'bad_request',
      message: 'The JSON body is not valid UTF-8 (byte 14 begins no UTF-8 character)',
    });
    // The same characters well formed reach the route (a wrong password: 401).
    expect((await login(Buffer.from('a\u00ff\u00feb'))).status).toBe(401);
  });

  it('answers a body in a content coding (gzip) with the JSON 415 naming it: no coding is decoded', async () => {
    const json = '{"username":"nobody","password":"x"}';
    const login = (body: Buffer, encoding: string, type = 'application/json') =>
      fetch(`${baseUrl}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': type, 'content-encoding': encoding },
        body: new Uint8Array(body),
      });
    for (const [encoding, body] of [
      ['gzip', gzipSync(json)],
      ['br', brotliCompressSync(json)],
      ['identity, gzip', gzipSync(json)],
    ] as const) {
      const res = await login(body, encoding);
      expect({ encoding, status: res.status, accepts: res.headers.get('accept-encoding') }).toEqual({
        encoding,
        status: 415,
        accepts: 'identity',
      });
      const answer = (await res.json()) as Record<string, unknown>;
      expect(answer).toEqual({
        error: 'bad_request',
        message: expect.stringMatching(/Content-Encoding: (gzip|br)\b.*unencoded/),
        request_id: res.headers.get('x-request-id'),
      });
    }
    // A module upload's bytes too; identity is no coding: the body reaches the route (a wrong password: 401).
    expect((await login(gzipSync('\0asm'), 'gzip', 'application/wasm')).status).toBe(415);
    expect((await login(Buffer.from(json), 'identity')).status).toBe(401);
  });

  describe('routes with large body limits answer 401/403 before reading the body', () => {
    const DECLARED = 50 * MiB;
    const firstPart = 'x'.repeat(MiB);
    /** Declares a 50 MB body, sends 1 MB of it and waits: only an answer given before the body is read comes. */
    const uploadStart = (path: string, headers: string) =>
      rawExchange(
        server.port,
        `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${headers}` +
          `Content-Length: ${DECLARED}\r\n\r\n`,
        firstPart,
        0,
        true,
      );

    it('401 for a circuit upload without credentials, while the client is still sending', async () => {
      const answer = await uploadStart('/api/v1/admin/circuits', '');
      expect(answer.sent).toBeLessThan(DECLARED);
      expectApiErrorAnswer(parseAnswer(answer.text), 401, 'unauthorized');
    });

    it('401 for a module upload with a bad key, and 403 for a circuit upload by a non-admin', async () => {
      const badKey = await uploadStart('/api/v1/modules', 'X-API-Key: vcp_notarealkey\r\n');
      expectApiErrorAnswer(parseAnswer(badKey.text), 401, 'unauthorized');
      const registered = await fetch(`${baseUrl}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: `early_${Date.now()}`, password: 'correct horse battery' }),
      });
      const { api_key } = (await registered.json()) as { api_key: string };
      const notAdmin = await uploadStart('/api/v1/admin/circuits', `X-API-Key: ${api_key}\r\n`);
      expect(notAdmin.sent).toBeLessThan(DECLARED);
      expectApiErrorAnswer(parseAnswer(notAdmin.text), 403, 'forbidden');
    });
  });
});
