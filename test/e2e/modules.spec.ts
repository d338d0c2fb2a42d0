import { DataSource } from 'typeorm';
import { MODULES, swapStored } from '../support/content';
import { BODY_LIMIT, CAP, Reply, useModuleRoutes } from '../support/module-routes';
import { DATA_OUT_OF_BOUNDS, ELEMENT_OUT_OF_BOUNDS, NO_MEMORY } from '../support/unrunnable-modules';
import { ORIGINAL_TASK } from '../support/tasks';
import { expect422 } from '../support/validation';
import { fixture, sha256, uniqueFixture } from '../support/wasm';

/** The module routes over real HTTP: upload, metadata, download, scopes, integrity, OpenAPI (runs: modules-run). */
describe('module routes over HTTP', () => {
  const m = useModuleRoutes();
  const { ctx, call, auth, uploadWasm, uploadJson, run, details, keyWith } = m;

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

    it('422 for a module no runtime can start: no exported memory, a data or element segment out of bounds', async () => {
      for (const [bytes, reason] of [
        [NO_MEMORY, 'it does not export its memory'],
        [DATA_OUT_OF_BOUNDS, 'cannot be instantiated: data segment is out of bounds'],
        [ELEMENT_OUT_OF_BOUNDS, 'cannot be instantiated: element segment is out of bounds'],
      ] as const) {
        const inline = {
          ...ORIGINAL_TASK,
          task_type: 'wasm_execution',
          wasm_module: Buffer.from(bytes).toString('base64'),
        };
        const json = (body: unknown) => ({
          headers: { ...auth(), 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        for (const res of [
          await uploadWasm(Buffer.from(bytes)),
          await call('POST', '/tasks', json(inline)),
        ]) {
          expect422(res, 'wasm_module');
          expect(details(res)).toEqual([{ field: 'wasm_module', message: expect.stringContaining(reason) }]);
        }
        expect((await call('GET', `/modules/${sha256(bytes)}`, { headers: auth() })).status).toBe(404);
      }
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
          415,
          'bad_request',
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

  describe('a module swapped in storage after upload', () => {
    it('is refused by run and download (409 conflict, not served), and a new upload of the bytes repairs it', async () => {
      const trap = fixture('trap');
      const id = sha256(trap);
      expect((await uploadWasm(trap)).status).toBe(201);
      expect((await run(id, { inputs: null })).json()).toMatchObject({ outcome: 'trap' });

      // Another valid module under this module's name: only the hash check can tell.
      await swapStored(ctx.app.get(DataSource), ctx.env.config, MODULES, id, echo);
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
