import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpTransport } from './http-transport';
import { eventually } from '../../test/support/eventually';
import { MAX_ANSWER_BYTES, networkFailure, nodeFetch } from './node-fetch';

/** A real loopback server: what nodeFetch sends is what arrives, and its answers come back unchanged. */
describe('nodeFetch', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let answer: (req: IncomingMessage, res: ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        answer(req, res);
      });
    });
    server.on('connection', (socket: Socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
    answer = (_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ runs: [{ run_id: 'r1' }] }));
    };
  });

  it('sends method, headers and body; answers status and JSON; reuses its connection', async () => {
    const before = sockets.size;
    for (let i = 0; i < 3; i++) {
      const res = await nodeFetch(`${base}/api/v1/nodes/n1/claim`, {
        method: 'POST',
        headers: { 'x-api-key': 'vcp_key', 'content-type': 'application/json' },
        body: JSON.stringify({ max: 1, wait_ms: 0 }),
      });
      expect(res.status).toBe(200);
      expect(res.ok).toBe(true);
      expect(await res.json()).toEqual({ runs: [{ run_id: 'r1' }] });
    }
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: '/api/v1/nodes/n1/claim',
      headers: { 'x-api-key': 'vcp_key', 'content-type': 'application/json' },
      body: '{"max":1,"wait_ms":0}',
    });
    expect(seen[0].headers['user-agent']).toMatch(/^vcp-agent\/\d+\.\d+\.\d+$/);
    expect(sockets.size - before).toBe(1); // keep-alive: three requests, one connection
  });

  it('passes 204 as an empty body and error statuses with their JSON body', async () => {
    answer = (_req, res) => {
      res.statusCode = 204;
      res.end();
    };
    const empty = await nodeFetch(`${base}/x`, { method: 'POST' });
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe('');
    answer = (_req, res) => {
      res.statusCode = 409;
      res.setHeader('content-type', 'application/json');
      res.end('{"error":"conflict","reason":"lease_lost"}');
    };
    const conflict = await nodeFetch(`${base}/x`, { method: 'POST', body: '{}' });
    expect(conflict.ok).toBe(false);
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({ error: 'conflict', reason: 'lease_lost' });
  });

  it('answers with the headers the agent reads: content type and Retry-After', async () => {
    answer = (_req, res) => {
      res.statusCode = 429;
      res.setHeader('content-type', 'application/json');
      res.setHeader('retry-after', '7');
      res.setHeader('x-ratelimit-limit', '3');
      res.end('{"error":"rate_limited"}');
    };
    const throttled = await nodeFetch(`${base}/x`, { method: 'POST', body: '{}' });
    expect(throttled.headers.get('retry-after')).toBe('7');
    expect(throttled.headers.get('content-type')).toBe('application/json');
    expect(throttled.headers.get('x-ratelimit-limit')).toBeNull();
    // Composed as the agent runs it: the transport over nodeFetch sees the wait the server asked for.
    const transport = new HttpTransport(base, 'n1', 'vcp_key', nodeFetch);
    await expect(transport.claim(1, 0, new AbortController().signal)).rejects.toMatchObject({
      status: 429,
      retryAfterMs: 7_000,
    });
  });

  it('answers with the headers an ending key comes with: Sunset, its successor, and the server’s Date', async () => {
    answer = (_req, res) => {
      res.setHeader('sunset', 'Wed, 01 Jul 2026 12:00:00 GMT');
      res.setHeader('x-api-key-replaced-by', '0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f');
      res.end('{}');
    };
    const res = await nodeFetch(`${base}/x`);
    expect(res.headers.get('sunset')).toBe('Wed, 01 Jul 2026 12:00:00 GMT');
    expect(res.headers.get('x-api-key-replaced-by')).toBe('0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f');
    expect(res.headers.get('date')).toMatch(/ GMT$/); // node:http sends it by default
  });

  it('downloads binary bodies byte for byte', async () => {
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    answer = (_req, res) => res.end(bytes);
    const res = await nodeFetch(`${base}/api/v1/modules/m/download`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('rejects like fetch: a refused connection is a TypeError with its cause; an abort is an AbortError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(nodeFetch(`http://127.0.0.1:${port}/x`)).rejects.toMatchObject({
      name: 'TypeError',
      cause: { code: 'ECONNREFUSED' },
    });
    answer = () => undefined; // never answers
    await expect(nodeFetch(`${base}/slow`, { signal: AbortSignal.timeout(50) })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('names a timed-out request "timed out" in the lines, not the DOMException code 23', async () => {
    answer = () => undefined; // never answers
    const timedOut = await nodeFetch(`${base}/slow`, { signal: AbortSignal.timeout(50) }).catch(
      (e: unknown) => e,
    );
    expect(networkFailure(timedOut)).toBe('timed out');
    const stopped = new AbortController();
    const aborted = nodeFetch(`${base}/slow`, { signal: stopped.signal }).catch((e: unknown) => e);
    stopped.abort();
    expect(networkFailure(await aborted)).toBe('aborted');
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    expect(networkFailure(refused)).toBe('ECONNREFUSED');
  });

  it('says what a TLS certificate failure means and the way out, not only its code', () => {
    const failing = (code: string) =>
      networkFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code }) }));
    expect(failing('DEPTH_ZERO_SELF_SIGNED_CERT')).toBe(
      "DEPTH_ZERO_SELF_SIGNED_CERT: the server's TLS certificate is not trusted here (self-signed, or from a " +
        "CA this machine does not know): give that CA's certificate to the agent as NODE_EXTRA_CA_CERTS=<ca.pem>",
    );
    expect(failing('UNABLE_TO_VERIFY_LEAF_SIGNATURE')).toContain('NODE_EXTRA_CA_CERTS=<ca.pem>');
    expect(failing('CERT_HAS_EXPIRED')).toContain('not valid now (expired');
    expect(failing('ERR_TLS_CERT_ALTNAME_INVALID')).toContain('not for this host name');
  });

  describe('a hostile or broken server', () => {
    it('an answer that keeps coming is cut off at maxBodyBytes: the request fails, the stream ends', async () => {
      let sent = 0;
      let closed = false;
      answer = (_req, res) => {
        res.on('close', () => (closed = true));
        const more = () => {
          while (!res.destroyed && res.write(Buffer.alloc(16 * 1024))) sent += 16 * 1024;
          if (!res.destroyed) res.once('drain', more);
        };
        more(); // chunked, no Content-Length: only counting the bytes finds the end of it
      };
      const failure = await nodeFetch(`${base}/api/v1/modules/m/download`, {
        maxBodyBytes: 64 * 1024,
        signal: AbortSignal.timeout(10_000),
      }).catch((e: unknown) => e);
      expect(networkFailure(failure)).toBe('the answer is larger than 0.0625 MiB, the most the agent reads');
      await eventually(() => expect(closed).toBe(true));
      expect(sent).toBeLessThan(16 * 1024 * 1024);
    });

    it('an answer past the bound that arrives whole at once fails, never cut short, and leaves no error unheard', async () => {
      answer = (_req, res) => {
        // Headers sent first: chunked, no Content-Length; the body then comes in one chunk.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ runs: [{ inputs: 'x'.repeat(10_000) }] }));
      };
      const unheard: unknown[] = [];
      const listener = (error: unknown) => unheard.push(error);
      process.on('uncaughtException', listener);
      try {
        const failure = await nodeFetch(`${base}/x`, { maxBodyBytes: 4096 }).catch((e: unknown) => e);
        expect(failure).toBeInstanceOf(TypeError);
        expect(networkFailure(failure)).toMatch(
          /^the answer is larger than .* MiB, the most the agent reads$/,
        );
        // The next request on a fresh connection works, and nothing was thrown meanwhile.
        answer = (_req, res) => res.end('{}');
        expect((await nodeFetch(`${base}/y`)).status).toBe(200);
      } finally {
        process.off('uncaughtException', listener);
      }
      expect(unheard).toEqual([]);
    });

    it('an answer whose Content-Length is over the default bound is refused before its body is read', async () => {
      answer = (_req, res) => {
        res.writeHead(200, { 'content-length': String(MAX_ANSWER_BYTES + 1) });
        res.write('{"runs":[');
      };
      const failure = await nodeFetch(`${base}/x`, { signal: AbortSignal.timeout(5_000) }).catch(
        (e: unknown) => e,
      );
      expect(networkFailure(failure)).toBe('the answer is larger than 256 MiB, the most the agent reads');
    });

    it('a body that stalls half-way is given up at the timeout; one cut short of its Content-Length fails', async () => {
      answer = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('{"runs":');
      };
      const stalled = await nodeFetch(`${base}/x`, { signal: AbortSignal.timeout(100) }).catch(
        (e: unknown) => e,
      );
      expect(networkFailure(stalled)).toBe('timed out');
      answer = (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.end('{"runs":[]}');
        res.socket?.end(); // the promised 89 other bytes never come
      };
      const short = await nodeFetch(`${base}/x`, { signal: AbortSignal.timeout(5_000) }).catch(
        (e: unknown) => e,
      );
      expect(short).toMatchObject({ name: 'TypeError', cause: { code: 'ECONNRESET' } });
    });

    it('a redirect is not followed: the key goes to no other host', async () => {
      const elsewhere: IncomingMessage['headers'][] = [];
      const other = createServer((req, res) => {
        elsewhere.push(req.headers);
        res.end('{}');
      });
      await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
      const otherBase = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
      try {
        answer = (_req, res) => {
          res.writeHead(307, { location: `${otherBase}/api/v1/nodes/n1/heartbeat` });
          res.end();
        };
        const res = await nodeFetch(`${base}/api/v1/nodes/n1/heartbeat`, {
          method: 'PUT',
          headers: { 'x-api-key': 'vcp_secret_key' },
          body: '{}',
        });
        expect(res.status).toBe(307);
        expect(elsewhere).toEqual([]);
      } finally {
        await new Promise((resolve) => other.close(resolve));
      }
    });
  });
});
