import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { API_CSP, HTML_CSP } from '../../src/common/http/security-headers';
import { bootApp } from '../support/app';
import { testConfig, TestConfig } from '../support/config';
import { LogCapture } from '../support/log-capture';
import { createTestDatabase, TestDatabase } from '../support/postgres';
import { ProbeModule } from '../support/probe.module';

const ALLOWED = 'https://dashboard.example.com';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('HTTP hygiene (real app on PostgreSQL)', () => {
  let db: TestDatabase;
  let env: TestConfig;
  let app: NestFastifyApplication;
  const logs = new LogCapture();

  beforeAll(async () => {
    db = await createTestDatabase();
    env = testConfig({
      DATABASE_URL: db.url,
      CORS_ALLOWED_ORIGINS: `${ALLOWED}, https://ops.example.com`,
      BODY_LIMIT_BYTES: '4096',
      LOG_LEVEL: 'info',
    });
    app = await bootApp(env.config, { extraModules: [ProbeModule], logDestination: logs });
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
    env?.cleanup();
  });

  const inject = (...args: Parameters<NestFastifyApplication['inject']>) => app.inject(...args);
  const postEcho = (payload: string, contentType = 'application/json') =>
    inject({
      method: 'POST',
      url: '/api/v1/probe/echo',
      headers: { 'content-type': contentType },
      payload,
    });

  describe('security headers', () => {
    it('sends the strict set on API responses', async () => {
      const res = await inject({ method: 'GET', url: '/api/v1/health' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['content-security-policy']).toBe(API_CSP);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers['expect-ct']).toBeUndefined();
    });

    it('sends them on errors too', async () => {
      const res = await inject({ method: 'GET', url: '/api/v1/nope' });
      expect(res.headers['content-security-policy']).toBe(API_CSP);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('gives HTML pages a CSP that allows only same-origin scripts and styles, never inline', async () => {
      const res = await inject({ method: 'GET', url: '/swagger-ui' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toBe(HTML_CSP);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.body).not.toMatch(/<script>|<style|style="/);
    });

    it('serves the OpenAPI document publicly', async () => {
      const res = await inject({ method: 'GET', url: '/api-docs/openapi.json' });
      expect(res.statusCode).toBe(200);
      const doc = res.json();
      expect(doc.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining(['/api/v1/health', '/api/v1/health/ready']),
      );
    });

    it('serves Swagger UI assets from the app and nothing else of the package', async () => {
      expect((await inject({ method: 'GET', url: '/swagger-ui/swagger-ui-bundle.js' })).statusCode).toBe(200);
      expect((await inject({ method: 'GET', url: '/swagger-ui/swagger-ui.css' })).statusCode).toBe(200);
      const hidden = await inject({ method: 'GET', url: '/swagger-ui/index.html' });
      expect(hidden.statusCode).toBe(404);
      expect(hidden.json().error).toBe('not_found');
    });
  });

  describe('CORS', () => {
    it('echoes an allowed origin exactly, with Vary: Origin', async () => {
      const res = await inject({ method: 'GET', url: '/api/v1/health', headers: { origin: ALLOWED } });
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(String(res.headers.vary)).toMatch(/Origin/i);
      const exposed = String(res.headers['access-control-expose-headers']).split(/,\s*/);
      // Exactly the headers the server sends: the rate-limit guard's X-RateLimit-* and Retry-After, and an
      // ending API key's Sunset and successor.
      expect(exposed).toEqual(
        expect.arrayContaining([
          'X-Request-Id',
          'Retry-After',
          'X-RateLimit-Limit',
          'X-RateLimit-Reset',
          'Sunset',
          'X-API-Key-Replaced-By',
        ]),
      );
      expect(exposed.filter((name) => name.startsWith('RateLimit-'))).toEqual([]);
    });

    it.each([
      ['an unknown origin', 'https://evil.example.com'],
      ['a look-alike origin', `${ALLOWED}.evil.com`],
      ['the null origin', 'null'],
    ])('gives %s no Access-Control-Allow-Origin', async (_case, origin) => {
      const res = await inject({ method: 'GET', url: '/api/v1/health', headers: { origin } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(String(res.headers.vary)).toMatch(/Origin/i);
    });

    it('answers an allowed preflight with the API headers', async () => {
      const res = await inject({
        method: 'OPTIONS',
        url: '/api/v1/health',
        headers: {
          origin: ALLOWED,
          'access-control-request-method': 'POST',
          'access-control-request-headers':
            'authorization,content-type,x-api-key,idempotency-key,x-request-id',
        },
      });
      expect(res.statusCode).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
      for (const header of [
        'authorization',
        'content-type',
        'x-api-key',
        'idempotency-key',
        'x-request-id',
      ]) {
        expect(allowed).toContain(header);
      }
    });

    it('refuses a preflight from an unknown origin', async () => {
      const res = await inject({
        method: 'OPTIONS',
        url: '/api/v1/health',
        headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
      });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-methods']).toBeUndefined();
    });
  });

  describe('error shapes', () => {
    const expectErrorShape = (body: Record<string, unknown>, error: string) => {
      expect(body.error).toBe(error);
      expect(typeof body.message).toBe('string');
      expect(body.request_id).toMatch(UUID);
    };

    it('404 for an unknown route, as JSON', async () => {
      const res = await inject({ method: 'GET', url: '/api/v1/does-not-exist' });
      expect(res.statusCode).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expectErrorShape(res.json(), 'not_found');
      expect(res.json().request_id).toBe(res.headers['x-request-id']);
    });

    it('404 outside /api/v1/ (a browser on the bare address, a path without the prefix) points to the API', async () => {
      for (const url of ['/', '/health?x=1']) {
        const res = await inject({ method: 'GET', url });
        expect(res.statusCode).toBe(404);
        expect(res.json().message).toBe(
          `No route for GET ${url.split('?')[0]}: the API is under /api/v1/ (Swagger UI at /swagger-ui)`,
        );
      }
      for (const url of ['/api/v1', '/api/v1/']) {
        expect((await inject({ method: 'GET', url })).json().message).toBe(
          `No route for GET ${url}: the API's routes are under /api/v1/, such as GET /api/v1/health ` +
            '(Swagger UI at /swagger-ui lists them)',
        );
      }
      // Inside the prefix, the path alone (control).
      const inside = await inject({ method: 'GET', url: '/api/v1/does-not-exist' });
      expect(inside.json().message).toBe('No route for GET /api/v1/does-not-exist');
    });

    it('405 with Allow for a known path and another method; 404 stays for unknown paths and preflights', async () => {
      const wrong = await inject({ method: 'PATCH', url: '/api/v1/health?x=1' });
      expect(wrong.statusCode).toBe(405);
      expect(wrong.headers.allow).toBe('GET, HEAD');
      expectErrorShape(wrong.json(), 'bad_request');
      expect(wrong.json().message).toBe('PATCH is not allowed on /api/v1/health; allowed: GET, HEAD');
      const parametrised = await inject({
        method: 'PUT',
        url: '/api/v1/tasks/00000000-0000-4000-8000-000000000000',
      });
      expect([parametrised.statusCode, parametrised.headers.allow]).toEqual([405, 'GET, HEAD, DELETE']);
      expect((await inject({ method: 'PATCH', url: '/api/v1/nope' })).statusCode).toBe(404);
      expect((await inject({ method: 'OPTIONS', url: '/api/v1/health' })).statusCode).not.toBe(405);
    });

    it('404 outside the API prefix is JSON too, never an HTML page', async () => {
      const res = await inject({ method: 'GET', url: '/' });
      expect(res.statusCode).toBe(404);
      expectErrorShape(res.json(), 'not_found');
    });

    it('400 for malformed JSON', async () => {
      const res = await postEcho('{"name": "x",');
      expect(res.statusCode).toBe(400);
      expectErrorShape(res.json(), 'bad_request');
    });

    it('400 for a prototype-poisoning body (refused by the JSON parser, never merged into objects), naming the key', async () => {
      const res = await postEcho('{"name": "x", "count": 1, "__proto__": {"isAdmin": true}}');
      expect(res.statusCode).toBe(400);
      expectErrorShape(res.json(), 'bad_request');
      expect(res.json<{ message: string }>().message).toMatch(/holds the key __proto__, which is refused/);
      for (const [body, path] of [
        ['{"name": "x", "labels": [{"a": 1}, {"\\u005f_proto__": 1}]}', 'labels[1].__proto__'],
        ['{"name": "x", "constructor": {"prototype": {"isAdmin": true}}}', 'constructor.prototype'],
      ]) {
        const nested = await postEcho(body);
        expect({ path, status: nested.statusCode }).toEqual({ path, status: 400 });
        expect(nested.json<{ message: string }>().message).toContain(`holds the key ${path},`);
      }
      // A body that is not JSON keeps the parser's own answer (negative control).
      const broken = await postEcho('{"name": "x", "__proto__": ');
      expect(broken.statusCode).toBe(400);
      expect(broken.json<{ message: string }>().message).toMatch(/not valid JSON/);
    });

    it('422 max_depth naming the path for a body nested deeper than 64 levels, checked before parsing', async () => {
      const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);
      const within = await postEcho(`{"name": "x", "count": 1, "extra": ${nested(63)}}`);
      // Past the parser; the DTO refuses the unknown field.
      expect(within.statusCode).toBe(422);
      expect(within.json().details).toEqual([{ field: 'extra', message: 'is not an allowed field' }]);
      const deeper = await postEcho(`{"name": "x", "count": 1, "extra": ${nested(64)}}`);
      expect(deeper.statusCode).toBe(422);
      expectErrorShape(deeper.json(), 'validation_error');
      expect(deeper.json().details).toEqual([
        { field: `extra${'[0]'.repeat(63)}`, message: 'max_depth: nesting is deeper than 64 levels' },
      ]);
    });

    it('415 for a form post, or JSON sent as text/plain (fetch’s default for a string body): JSON only', async () => {
      const res = await postEcho('name=x&count=1', 'application/x-www-form-urlencoded');
      expect(res.statusCode).toBe(415);
      expectErrorShape(res.json(), 'bad_request');
      const json = '{"name": "x", "count": 1}';
      // Not a 422 listing every field as missing: the type is refused, whatever the body (empty too).
      for (const body of [json, '']) expect((await postEcho(body, 'text/plain')).statusCode).toBe(415);
      expect((await postEcho(json)).statusCode).toBe(201); // the same bytes as JSON: taken
    });

    it('415 with the bad_request code for a content type the API does not take', async () => {
      // application/wasm is taken only by module uploads (modules.spec): elsewhere it is refused as a type,
      // not handed to validation as a Buffer and answered with a 422 about a field.
      for (const [body, type] of [
        ['<name>x</name>', 'application/xml'],
        ['\0asm\x01\0\0\0', 'application/wasm'],
      ]) {
        const res = await postEcho(body, type);
        expect({ type, status: res.statusCode }).toEqual({ type, status: 415 });
        expectErrorShape(res.json(), 'bad_request');
        expect(res.json<{ message: string }>().message).toMatch(
          /send the body as JSON \(Content-Type: application\/json/,
        );
      }
    });

    it('413 for a body over BODY_LIMIT_BYTES', async () => {
      const res = await postEcho(JSON.stringify({ name: 'x', count: 1, pad: 'y'.repeat(5000) }));
      expect(res.statusCode).toBe(413);
      expectErrorShape(res.json(), 'payload_too_large');
    });

    it('422 with field details for invalid input', async () => {
      const res = await inject({
        method: 'POST',
        url: '/api/v1/probe/echo',
        payload: { name: '', count: 9, inner: { label: 'far too long' } },
      });
      expect(res.statusCode).toBe(422);
      const body = res.json();
      expectErrorShape(body, 'validation_error');
      const fields = (body.details as { field: string; message: string }[]).map((d) => d.field);
      expect(fields).toEqual(expect.arrayContaining(['name', 'count', 'inner.label']));
      for (const detail of body.details) expect(typeof detail.message).toBe('string');
    });

    it('422 for a field that is not part of the request (never silently dropped or applied)', async () => {
      const res = await inject({
        method: 'POST',
        url: '/api/v1/probe/echo',
        payload: { name: 'ok', count: 1, role: 'admin' },
      });
      expect(res.statusCode).toBe(422);
      expect(res.json().details).toEqual([{ field: 'role', message: 'is not an allowed field' }]);
    });

    it('accepts a valid body (the pipe transforms and passes it through)', async () => {
      const res = await inject({
        method: 'POST',
        url: '/api/v1/probe/echo',
        payload: { name: 'ok', count: 2 },
      });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({ name: 'ok', count: 2 });
    });

    it('500 reveals no stack and no internals, but logs them', async () => {
      const res = await inject({ method: 'GET', url: '/api/v1/probe/boom' });
      expect(res.statusCode).toBe(500);
      const body = res.json();
      expect(Object.keys(body).sort()).toEqual(['error', 'message', 'request_id']);
      expectErrorShape(body, 'internal_error');
      expect(body.message).toBe('Internal server error');
      expect(res.body).not.toMatch(/hunter2|secret\.ts|\bat \/|stack/);
      const logged = logs.parsed().find((line) => line.request_id === body.request_id && line.level === 50);
      expect(JSON.stringify(logged)).toContain('hunter2'); // the operator still gets the real error
    });

    it.each([
      ['a malformed percent-encoding', '/api/v1/tasks/%zz', 400],
      ['a path parameter over maxParamLength', `/api/v1/tasks/${'a'.repeat(101)}`, 414],
    ])('%s, refused by the router itself: the same body and headers as any error', async (_, url, status) => {
      const id = '6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f';
      const res = await inject({ method: 'GET', url, headers: { 'x-request-id': id, origin: ALLOWED } });
      expect(res.statusCode).toBe(status);
      // A browser page of an allowed origin can read the error (CORS), like any other answer's.
      expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
      expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
      expect(res.headers.vary).toBe('Origin');
      const foreign = await inject({ method: 'GET', url, headers: { origin: 'https://evil.example' } });
      expect(foreign.statusCode).toBe(status);
      expect(foreign.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(res.json()).sort()).toEqual(['error', 'message', 'request_id']);
      expectErrorShape(res.json(), 'bad_request');
      expect(res.body).not.toContain('FST_ERR');
      expect(res.json().request_id).toBe(id);
      expect(res.headers['x-request-id']).toBe(id);
      expect(res.headers['content-security-policy']).toBe(API_CSP);
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['cache-control']).toBe('no-store');
    });
  });

  describe('request ids and logs', () => {
    it('keeps a UUID X-Request-Id from the caller', async () => {
      const id = '6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f';
      const res = await inject({ method: 'GET', url: '/api/v1/health', headers: { 'x-request-id': id } });
      expect(res.headers['x-request-id']).toBe(id);
    });

    it.each([['not-a-uuid'], ['6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f\nforged log line'], ['x'.repeat(300)]])(
      'replaces an X-Request-Id that is not a UUID (%#)',
      async (incoming) => {
        const res = await inject({
          method: 'GET',
          url: '/api/v1/nope',
          headers: { 'x-request-id': incoming },
        });
        const id = String(res.headers['x-request-id']);
        expect(id).toMatch(UUID);
        expect(id).not.toBe(incoming);
        expect(res.json().request_id).toBe(id);
      },
    );

    it('writes JSON log lines with the request id and redacts credentials', async () => {
      const bearer = 'eyJhbGciOiJIUzI1NiJ9.sekrit-bearer-token';
      const apiKey = 'vcp_SekritApiKeyValue1234567890';
      const res = await inject({
        method: 'POST',
        url: '/api/v1/probe/echo',
        headers: { authorization: `Bearer ${bearer}`, 'x-api-key': apiKey, cookie: 'session=sekrit-cookie' },
        payload: { name: 'ok', count: 1 },
      });
      const id = String(res.headers['x-request-id']);
      // First the line that carried the credentials, with each one replaced; then every line of the request.
      const completed = (await logs.completedLine(id)) as { req: { headers: object } };
      expect(completed.req.headers).toMatchObject({
        authorization: '[redacted]',
        'x-api-key': '[redacted]',
        cookie: '[redacted]',
      });
      const text = JSON.stringify(logs.parsed().filter((line) => line.request_id === id));
      expect(text).not.toContain('sekrit');
    });
  });
});
