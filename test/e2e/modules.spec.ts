import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_DEEP_JSON_LIMITS as L } from '../../src/common/validation/deep-json';
import { useTestApp } from '../support/app';
import { scrape, valueOf } from '../support/prometheus';
import { apiKeyHeader, bearer, newSession, Session } from '../support/auth';
import { expect422 } from '../support/validation';
import { fixture, sha256, uniqueFixture } from '../support/wasm';

const CAP = 64 * 1024;
const BODY_LIMIT = 1024 * 1024;

interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: <T = Record<string, unknown>>() => T;
}

/** `n` arrays around `inner`, as JSON text. */
const nestedText = (n: number, inner = '1') => '['.repeat(n) + inner + ']'.repeat(n);
/** The path findDeepJsonViolation gives for the container `n` levels below `root`. */
const indexPath = (root: string, n: number) => root + '[0]'.repeat(n);

/**
 * The module routes over real HTTP (the app listens on a port; requests go through Node's HTTP client), so
 * body parsing, content types and limits are the ones a client meets.
 */
describe('module routes over HTTP', () => {
  const ctx = useTestApp({
    env: {
      WASM_MAX_MODULE_BYTES: String(CAP),
      BODY_LIMIT_BYTES: String(BODY_LIMIT),
      WASM_DEFAULT_RUNTIME: 'v8',
      WASM_MAX_CONCURRENCY: '2',
      WASM_TIMEOUT_SECS: '5',
    },
  });
  let base: string;
  let alice: Session;

  beforeAll(async () => {
    await ctx.app.listen(0, '127.0.0.1');
    const address = ctx.app.getHttpServer().address();
    if (typeof address !== 'object' || address === null) throw new Error('no address');
    base = `http://127.0.0.1:${address.port}/api/v1`;
    alice = await newSession(ctx.app, 'modules');
  });

  /** One request; a 5xx always fails the test, whatever it expected. */
  const call = async (
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<Reply> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: options.headers,
      body: options.body === undefined ? undefined : new Uint8Array(Buffer.from(options.body)),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}: ${bytes.toString()}`);
    return { status: res.status, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString()) };
  };
  const auth = () => apiKeyHeader(alice.apiKey);
  const uploadWasm = (bytes: Buffer, headers = auth()) =>
    call('POST', '/modules', { headers: { ...headers, 'content-type': 'application/wasm' }, body: bytes });
  const uploadJson = (body: unknown, headers = auth()) =>
    call('POST', '/modules', {
      headers: { ...headers, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const run = (moduleId: string, body: unknown, headers = auth()) =>
    call('POST', `/modules/${moduleId}/run`, {
      headers: { ...headers, 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const details = (res: Reply) => res.json<{ details: { field: string; message: string }[] }>().details;
  const keyWith = async (scopes: string[]) => {
    const res = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(alice.accessToken),
      payload: { name: `only ${scopes.join(' ')}`, scopes },
    });
    return apiKeyHeader(res.json<{ api_key: string }>().api_key);
  };

  const echo = fixture('echo');
  const echoId = sha256(echo);

  describe('upload', () => {
    it('stores an application/wasm body: 201 with the hash, size, imports and exports; 200 the second time', async () => {
      const bytes = uniqueFixture('echo'); // new bytes, whatever was uploaded before
      const first = await uploadWasm(bytes);
      expect(first.status).toBe(201);
      const body = first.json();
      expect(body).toEqual({
        module_id: sha256(bytes),
        size_bytes: bytes.length,
        imports: expect.arrayContaining([
          { module: 'wasi_snapshot_preview1', name: 'fd_write', kind: 'function' },
        ]),
        exports: expect.arrayContaining([{ name: '_start', kind: 'function' }]),
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      const again = await uploadWasm(bytes);
      expect(again.status).toBe(200);
      expect(again.json()).toEqual(body);
    });

    it('stores JSON {wasm_module: base64} the same way, and the same bytes in either form are one module', async () => {
      const exitCode = uniqueFixture('exit_code');
      const created = await uploadJson({ wasm_module: exitCode.toString('base64') });
      expect(created.status).toBe(201);
      expect(created.json()).toMatchObject({ module_id: sha256(exitCode), size_bytes: exitCode.length });
      expect((await uploadWasm(exitCode)).status).toBe(200);
      // And the other way round: raw first, then base64.
      const other = uniqueFixture('echo');
      expect((await uploadWasm(other)).status).toBe(201);
      expect((await uploadJson({ wasm_module: other.toString('base64') })).status).toBe(200);
    });

    it('413 over WASM_MAX_MODULE_BYTES: raw, base64 that decodes to more, base64 too long, body over the route limit', async () => {
      // Garbage is fine: the size is checked before anything else, and exactly the cap is not "too large".
      expect((await uploadWasm(Buffer.alloc(CAP, 1))).status).toBe(422);
      const cases = [
        await uploadWasm(Buffer.alloc(CAP + 1, 1)),
        // CAP + 1 bytes fit in as many base64 characters as CAP bytes: the decoded size decides.
        await uploadJson({ wasm_module: Buffer.alloc(CAP + 1, 1).toString('base64') }),
        await uploadJson({ wasm_module: 'AAAA'.repeat(CAP) }),
        await uploadWasm(Buffer.alloc(BODY_LIMIT + 1, 1)),
      ];
      for (const res of cases) {
        expect(res.status).toBe(413);
        expect(res.json()).toMatchObject({ error: 'payload_too_large' });
      }
    });

    it('422 naming the import for a module that imports outside WASI', async () => {
      const res = await uploadWasm(fixture('host_import'));
      expect422(res, 'wasm_module');
      expect(res.json<{ message: string }>().message).toContain('"env.host_escape"');
      expect(details(res)).toEqual([
        { field: 'wasm_module', message: expect.stringContaining('env.host_escape') },
      ]);
    });

    it('refuses garbage with a stable 4xx code, never a 500', async () => {
      const refusals: [Promise<Reply>, number, string][] = [
        [uploadWasm(Buffer.from('not a module')), 422, 'validation_error'],
        [uploadWasm(Buffer.alloc(0)), 422, 'validation_error'],
        [uploadWasm(fixture('tiny').subarray(0, 20)), 422, 'validation_error'],
        [uploadJson({ wasm_module: '@@not base64@@' }), 422, 'validation_error'],
        // 67 bytes: base64 ends in "==", which canonical base64 requires.
        [
          uploadJson({ wasm_module: fixture('tiny').toString('base64').replace(/=+$/, '') }),
          422,
          'validation_error',
        ],
        [uploadJson({ wasm_module: Buffer.from('hello').toString('base64') }), 422, 'validation_error'],
        [uploadJson({ wasm_module: 42 }), 422, 'validation_error'],
        [uploadJson({}), 422, 'validation_error'],
        [uploadJson([]), 422, 'validation_error'],
        [uploadJson({ wasm_module: echo.toString('base64'), name: 'x' }), 422, 'validation_error'],
        [uploadJson('{"wasm_module": '), 400, 'bad_request'],
        [
          call('POST', '/modules', { headers: { ...auth(), 'content-type': 'text/plain' }, body: 'x' }),
          422,
          'validation_error',
        ],
        [
          call('POST', '/modules', {
            headers: { ...auth(), 'content-type': 'application/octet-stream' },
            body: echo,
          }),
          415,
          'bad_request',
        ],
      ];
      for (const [pending, status, error] of refusals) {
        const res = await pending;
        expect({ status: res.status, error: res.json().error }).toEqual({ status, error });
      }
    });
  });

  describe('metadata and download', () => {
    beforeAll(async () => {
      await uploadWasm(echo);
    });

    it('GET /modules/:id returns the metadata of the upload', async () => {
      const res = await call('GET', `/modules/${echoId}`, { headers: auth() });
      expect(res.status).toBe(200);
      expect(res.json()).toEqual((await uploadWasm(echo)).json());
    });

    it('GET /modules/:id/download returns the exact bytes as application/wasm', async () => {
      const res = await call('GET', `/modules/${echoId}/download`, { headers: auth() });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/wasm');
      expect(res.bytes.equals(echo)).toBe(true);
    });

    it('404 for an unknown module, 422 for a malformed id, on every route', async () => {
      const unknown = '0'.repeat(64);
      for (const id of [unknown, 'abc', echoId.toUpperCase(), `${echoId}0`, '..%2F..%2Fetc%2Fpasswd']) {
        for (const res of [
          await call('GET', `/modules/${id}`, { headers: auth() }),
          await call('GET', `/modules/${id}/download`, { headers: auth() }),
          await run(id, { inputs: null }),
        ]) {
          if (id === unknown) {
            expect(res.status).toBe(404);
            expect(res.json()).toMatchObject({ error: 'not_found' });
          } else {
            expect(res.status).toBe(422);
            expect(details(res)).toEqual([{ field: 'module_id', message: expect.any(String) }]);
          }
        }
      }
    });
  });

  describe('scopes', () => {
    beforeAll(async () => {
      await uploadWasm(echo);
    });

    it('upload and run need tasks:write, metadata tasks:read, download nodes:read (403 without)', async () => {
      const read = await keyWith(['tasks:read']);
      const nodes = await keyWith(['nodes:read']);
      const write = await keyWith(['tasks:write']);
      const expectations: [Promise<Reply>, number][] = [
        [uploadWasm(echo, read), 403],
        [uploadWasm(echo, nodes), 403],
        [uploadWasm(echo, write), 200],
        [run(echoId, { inputs: 1 }, read), 403],
        [run(echoId, { inputs: 1 }, write), 200],
        [call('GET', `/modules/${echoId}`, { headers: nodes }), 403],
        [call('GET', `/modules/${echoId}`, { headers: read }), 200],
        [call('GET', `/modules/${echoId}/download`, { headers: read }), 403],
        [call('GET', `/modules/${echoId}/download`, { headers: nodes }), 200],
        [call('GET', `/modules/${echoId}`), 401],
      ];
      for (const [pending, status] of expectations) expect((await pending).status).toBe(status);
    });
  });

  describe('run', () => {
    beforeAll(async () => {
      await uploadWasm(echo);
    });

    it('runs the echo module: inputs on stdin, stdout parsed, hashes of module, inputs and output', async () => {
      const inputs = { numbers: [1, 2, 3], nested: { text: 'héllo', ok: true, none: null } };
      const res = await run(echoId, { inputs });
      expect(res.status).toBe(200);
      const stdin = JSON.stringify(inputs);
      expect(res.json()).toEqual({
        exit_code: 0,
        stdout: inputs,
        stderr: '',
        execution_time_ms: expect.any(Number),
        module_hash: echoId,
        inputs_hash: sha256(stdin),
        output_hash: sha256(stdin),
        runtime: 'v8',
        outcome: 'ok',
      });
    });

    it('passes args and only the listed environment, and reports a nonzero exit', async () => {
      const env = fixture('env');
      await uploadWasm(env);
      const listed = await run(sha256(env), { inputs: null, args: ['GREETING'], env: { GREETING: 'hello' } });
      expect(listed.json()).toMatchObject({ stdout: { count: 1, value: 'hello' }, outcome: 'ok' });

      const exitCode = fixture('exit_code');
      await uploadWasm(exitCode);
      const res = await run(sha256(exitCode), { inputs: null, args: ['3'] });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({
        exit_code: 3,
        stdout: { argc: 2 },
        stderr: 'exiting with 3\n',
        outcome: 'exit_nonzero',
      });
    });

    it('ends a runaway module at timeout_ms with outcome timeout', async () => {
      const loop = fixture('loop');
      await uploadWasm(loop);
      const res = await run(sha256(loop), { inputs: null, timeout_ms: 300 });
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ outcome: 'timeout', exit_code: null, runtime: 'v8' });
    });

    it('feeds wasm_execution_duration_seconds{runtime, outcome}', async () => {
      const series = async (outcome: string) => {
        const { samples } = await scrape(ctx.app);
        const labels = { runtime: 'v8', outcome };
        return {
          count: valueOf(samples, 'wasm_execution_duration_seconds_count', labels),
          sum: valueOf(samples, 'wasm_execution_duration_seconds_sum', labels),
        };
      };
      const loop = fixture('loop');
      await uploadWasm(loop);
      const [ok, timeout] = [await series('ok'), await series('timeout')];
      expect((await run(echoId, { inputs: 1 })).json().outcome).toBe('ok');
      expect((await run(sha256(loop), { inputs: null, timeout_ms: 200 })).json().outcome).toBe('timeout');
      const [okAfter, timeoutAfter] = [await series('ok'), await series('timeout')];
      expect(okAfter.count - ok.count).toBe(1);
      expect(timeoutAfter.count - timeout.count).toBe(1);
      expect(timeoutAfter.sum - timeout.sum).toBeGreaterThanOrEqual(0.2);
    });

    const atLimit: [string, (n: number) => unknown, number, string, string][] = [
      ['depth', (n) => JSON.parse(nestedText(n)), L.maxDepth, 'max_depth', indexPath('inputs', L.maxDepth)],
      ['array items', (n) => ({ list: Array(n).fill(0) }), L.maxArrayItems, 'max_array_items', 'inputs.list'],
      [
        'object keys',
        (n) => ({ o: Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])) }),
        L.maxObjectKeys,
        'max_object_keys',
        'inputs.o',
      ],
      ['key length', (n) => ({ o: { ['k'.repeat(n)]: 1 } }), L.maxKeyLength, 'max_key_length', 'inputs.o'],
      ['string length', (n) => ({ s: 'x'.repeat(n) }), L.maxStringLength, 'max_string_length', 'inputs.s'],
    ];
    it.each(atLimit)(
      '%s: the limit runs, limit + 1 is a 422 naming rule and path',
      async (_name, build, limit, rule, path) => {
        const ok = await run(echoId, { inputs: build(limit) });
        expect(ok.status).toBe(200);
        expect(ok.json()).toMatchObject({ outcome: 'ok', stdout: build(limit) });
        const refused = await run(echoId, { inputs: build(limit + 1) });
        expect(expect422(refused, path)).toEqual([
          { field: path, message: expect.stringMatching(new RegExp(`^${rule}: `)) },
        ]);
      },
    );

    it.each(['__proto__', 'constructor', 'prototype'])(
      'a %s key in the inputs is a 422 forbidden_key naming the path',
      async (key) => {
        // Written as text: an object literal with a `__proto__` key would set a prototype instead.
        const res = await run(echoId, `{"inputs": {"a": [{"${key}": {"polluted": true}}]}}`);
        expect(res.status).toBe(422);
        expect(details(res)).toEqual([
          { field: `inputs.a[0].${key}`, message: expect.stringMatching(/^forbidden_key: /) },
        ]);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      },
    );

    it('a 100 000-deep body is a 422 max_depth naming the path, on this route and on others, and the server carries on', async () => {
      const deepArrays = `{"inputs": ${nestedText(100_000)}}`;
      const deepObjects = `{"inputs": ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`;
      const expectDeep = (res: Reply, path: string) => {
        expect(res.status).toBe(422);
        expect(details(res)).toEqual([{ field: path, message: expect.stringMatching(/^max_depth: /) }]);
      };
      expectDeep(await run(echoId, deepArrays), indexPath('inputs', 63));
      expectDeep(await run(echoId, deepObjects), `inputs${'.a'.repeat(63)}`);
      expectDeep(
        await uploadJson(`{"wasm_module": ${nestedText(100_000, '"AAAA"')}}`),
        indexPath('wasm_module', 63),
      );
      // An ordinary DTO route: class-transformer recurses, and used to overflow the stack here (a 500).
      const apiKeys = await call('POST', '/api-keys', {
        headers: { ...bearer(alice.accessToken), 'content-type': 'application/json' },
        body: `{"name": "deep", "scopes": ["tasks:read"], "x": ${nestedText(5_000)}}`,
      });
      expectDeep(apiKeys, indexPath('x', 63));
      // Within the parser's bound, the inputs rule (16 levels) answers.
      expectDeep(await run(echoId, `{"inputs": ${nestedText(63)}}`), indexPath('inputs', L.maxDepth));
      expect((await run(echoId, { inputs: [1] })).json()).toMatchObject({ outcome: 'ok', stdout: [1] });
    });

    it('refuses malformed run requests with a 422 naming the field', async () => {
      const cases: [unknown, string][] = [
        [{ inputs: 1, extra: true }, 'extra'],
        [{ args: [] }, 'inputs'],
        [[1, 2], 'body'],
        [{ inputs: 1, args: 'x' }, 'args'],
        [{ inputs: 1, args: ['a'.repeat(257)] }, 'args[0]'],
        [{ inputs: 1, env: { 'BAD NAME': 'x' } }, 'env.BAD NAME'],
        [{ inputs: 1, timeout_ms: 5001 }, 'timeout_ms'],
        [{ inputs: 1, timeout_ms: 1.5 }, 'timeout_ms'],
        [{ inputs: 1, runtime: 'wasmtime' }, 'runtime'],
        [{ inputs: 1, deterministic: 'yes' }, 'deterministic'],
        // wasmer cannot fix the clock or the random source: refused before anything runs.
        [{ inputs: 1, runtime: 'wasmer', deterministic: true }, 'deterministic'],
        ['{"inputs": 1, "__proto__": {"x": 1}}', '__proto__'],
      ];
      for (const [body, field] of cases) {
        const res = await run(echoId, body);
        expect({ body, status: res.status, fields: details(res).map((d) => d.field) }).toEqual({
          body,
          status: 422,
          fields: [field],
        });
        expect422(res, field);
      }
      expect((await run(echoId, '{"inputs": ')).status).toBe(400);
    });
  });

  describe('a module file swapped on disk after upload', () => {
    it('is refused by run and download (409 conflict, not served), and a new upload of the bytes repairs it', async () => {
      const trap = fixture('trap');
      const id = sha256(trap);
      expect((await uploadWasm(trap)).status).toBe(201);
      expect((await run(id, { inputs: null })).json()).toMatchObject({ outcome: 'trap' });

      // Another valid module under this module's name: only the hash check can tell.
      writeFileSync(join(ctx.env.config.wasm.allowedRoots[0], `${id}.wasm`), echo);
      for (const res of [
        await run(id, { inputs: { leaked: true } }),
        await call('GET', `/modules/${id}/download`, { headers: auth() }),
      ]) {
        expect(res.status).toBe(409);
        expect(res.json()).toMatchObject({
          error: 'conflict',
          message: expect.stringContaining('integrity check failed'),
        });
        expect(res.bytes.includes(echo.subarray(0, 64))).toBe(false);
      }

      expect((await uploadWasm(trap)).status).toBe(200);
      const download = await call('GET', `/modules/${id}/download`, { headers: auth() });
      expect(download.bytes.equals(trap)).toBe(true);
    });
  });

  it('documents the routes in OpenAPI: both upload content types, wasm download, scopes', async () => {
    const doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    const paths = doc.paths as Record<string, Record<string, Record<string, unknown>>>;
    const upload = paths['/api/v1/modules'].post;
    expect(Object.keys((upload.requestBody as { content: object }).content).sort()).toEqual([
      'application/json',
      'application/wasm',
    ]);
    expect(upload['x-required-scopes']).toEqual(['tasks:write']);
    expect(paths['/api/v1/modules/{module_id}'].get['x-required-scopes']).toEqual(['tasks:read']);
    const download = paths['/api/v1/modules/{module_id}/download'].get;
    expect(download['x-required-scopes']).toEqual(['nodes:read']);
    expect(Object.keys((download.responses as Record<string, { content: object }>)['200'].content)).toEqual([
      'application/wasm',
    ]);
    expect(paths['/api/v1/modules/{module_id}/run'].post['x-required-scopes']).toEqual(['tasks:write']);
  });
});
