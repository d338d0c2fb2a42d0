import { DEFAULT_DEEP_JSON_LIMITS as L } from '../../src/common/validation/deep-json';
import { bearer } from '../support/auth';
import { indexPath, nestedText, Reply, useModuleRoutes } from '../support/module-routes';
import { scrape, valueOf } from '../support/prometheus';
import { expect422 } from '../support/validation';
import { fixture, sha256 } from '../support/wasm';

/** POST /modules/:id/run over real HTTP: inputs, args, env, timeouts, metrics and the deep-JSON limits. */
describe('module runs over HTTP', () => {
  const m = useModuleRoutes();
  const { ctx, call, uploadWasm, uploadJson, run, details } = m;

  const echo = fixture('echo');
  const echoId = sha256(echo);

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

    it('takes an optional field sent as null as left out (generated clients send one for each)', async () => {
      for (const field of ['args', 'env', 'runtime', 'timeout_ms', 'deterministic']) {
        const res = await run(echoId, { inputs: { field }, [field]: null });
        expect({ field, status: res.status }).toEqual({ field, status: 200 });
        expect(res.json()).toMatchObject({ outcome: 'ok', stdout: { field }, runtime: 'v8' });
      }
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
        headers: { ...bearer(m.alice.accessToken), 'content-type': 'application/json' },
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
});
