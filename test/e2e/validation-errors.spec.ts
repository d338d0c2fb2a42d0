import { useTestApp } from '../support/app';
import { expectGolden, RecordedResponse } from '../support/golden';
import { bearer, login, newSession } from '../support/auth';
import { fixture } from '../support/wasm';
import { b64, circuitPayload, verifyBody, zkFixture } from '../support/zk';

/**
 * The exact 4xx bodies of the request checks (run, verify, circuit registration, ids in paths, DTO fields,
 * cursors), recorded once (`UPDATE_GOLDEN=1`) and compared on every run: moving a check from a service into
 * a pipe or a decorator must not change a status, a field, a message or which error wins.
 */
const ADMIN = { username: 'contract_admin', password: 'contract admin password' };
const BAD_ID = 'not-a-uuid';

function withoutRequestId(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  return Object.fromEntries(Object.entries(body).filter(([key]) => key !== 'request_id'));
}

describe('validation error bodies', () => {
  const ctx = useTestApp({
    database: 'pglite',
    env: {
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      WASM_DEFAULT_RUNTIME: 'v8',
      WASM_TIMEOUT_SECS: '5',
      CIRCUIT_WASM_MAX_BYTES: '1024',
    },
  });
  const recorded: Record<string, RecordedResponse> = {};

  async function step(
    name: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    headers: Record<string, string>,
    payload?: unknown,
  ): Promise<void> {
    const raw = typeof payload === 'string';
    const res = await ctx.app.inject({
      method,
      url: `/api/v1${url}`,
      headers: raw ? { ...headers, 'content-type': 'application/json' } : headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    const isJson = res.headers['content-type']?.toString().includes('json');
    recorded[name] = {
      status: res.statusCode,
      // Only error bodies are the subject; a success is recorded as such (its times vary between runs).
      body: res.statusCode < 400 ? '<success>' : isJson ? withoutRequestId(res.json()) : '<not json>',
    };
  }

  it('match the recorded bodies', async () => {
    const user = bearer((await newSession(ctx.app, 'contract')).accessToken);
    const admin = bearer((await login(ctx.app, ADMIN.username, ADMIN.password)).access_token);
    const echo = fixture('echo');
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: user,
      payload: { wasm_module: echo.toString('base64') },
    });
    const moduleId = upload.json<{ module_id: string }>().module_id;
    const run = (name: string, body: unknown, id = moduleId) =>
      step(`run: ${name}`, 'POST', `/modules/${id}/run`, user, body);

    await run('array body', []);
    await run('string body', '"text"');
    await run('null body', 'null');
    await run('unknown field', { inputs: 1, timeoutMs: 5 });
    await run('own __proto__', '{"inputs": 1, "__proto__": {"x": 1}}');
    await run('no inputs', { args: [] });
    await run('forbidden key in inputs', '{"inputs": {"a": [{"constructor": 1}]}}');
    await run('too deep inputs', { inputs: JSON.parse('['.repeat(17) + ']'.repeat(17)) as unknown });
    await run('long string in inputs', { inputs: { s: 'x'.repeat(10_001) } });
    await run('args not an array', { inputs: 1, args: 'x' });
    await run('too many args', { inputs: 1, args: Array(65).fill('a') });
    await run('bad args', { inputs: 1, args: [1, 'ok', 'x'.repeat(257)] });
    // A NUL anywhere in a body is refused by the body parser, before the route's own checks.
    await run('args with a NUL', { inputs: 1, args: ['ok', 'a\u0000b'] });
    await run('env an array', { inputs: 1, env: ['A'] });
    await run('env null', { inputs: 1, env: null });
    await run('bad env', { inputs: 1, env: { '1A': 'x', B: 2, ['D'.repeat(100)]: 'y' } });
    await run('env with a NUL', { inputs: 1, env: { C: 'a\u0000' } });
    await run('timeout 0', { inputs: 1, timeout_ms: 0 });
    await run('timeout fraction', { inputs: 1, timeout_ms: 1.5 });
    await run('timeout over the cap', { inputs: 1, timeout_ms: 5001 });
    await run('timeout a string', { inputs: 1, timeout_ms: '100' });
    await run('unknown runtime', { inputs: 1, runtime: 'jvm' });
    await run('deterministic a string', { inputs: 1, deterministic: 'yes' });
    await run('deterministic on wasmer', { inputs: 1, runtime: 'wasmer', deterministic: true });
    await run('everything wrong', {
      inputs: { constructor: 1 },
      args: [1],
      env: { '-': 'x' },
      timeout_ms: -1,
      runtime: 'jvm',
      deterministic: 1,
    });
    await run('bad body, unknown module', { inputs: 1, timeout_ms: 0 }, '0'.repeat(64));
    await run('good body, unknown module', { inputs: 1 }, '0'.repeat(64));
    await run('bad body, malformed module id', { inputs: 1, timeout_ms: 0 }, 'abc');
    await run('no inputs, malformed module id', { args: [] }, 'abc');
    await step('module: malformed id', 'GET', '/modules/ABC', user);

    const registered = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: admin,
      payload: circuitPayload('multiplier', 'groth16'),
    });
    const ids = { 'multiplier.groth16': registered.json<{ circuit_id: string }>().circuit_id };
    const circuitId = ids['multiplier.groth16'];
    const task = '00000000-0000-4000-8000-000000000000';
    const verify = (name: string, body: unknown) =>
      step(`verify: ${name}`, 'POST', '/proofs/verify', user, body);
    const modern = (patch: Record<string, unknown>) => verifyBody(ids, 'multiplier', 'groth16', patch);
    const legacy = (patch: Record<string, unknown>) => ({
      task_id: task,
      circuit_id: circuitId,
      proof_data: b64(zkFixture('multiplier', 'groth16').proof),
      public_inputs: b64(['33', '11']),
      ...patch,
    });
    await verify('empty object', {});
    await verify('array body', []);
    await verify('upper-case circuit id', modern({ circuit_id: circuitId.toUpperCase() }));
    await verify('no proof', { circuit_id: circuitId, public_signals: ['33', '11'] });
    await verify('no public signals', { circuit_id: circuitId, proof: {} });
    await verify('proof not an object', modern({ proof: 'x' }));
    await verify('signals not an array', modern({ public_signals: 'x' }));
    await verify('task id not a uuid', modern({ task_id: 'nope' }));
    await verify('run id not a uuid', modern({ run_id: 12 }));
    await verify('unknown field', modern({ surprise: 1 }));
    await verify('mixed forms', modern({ proof_data: b64({}) }));
    await verify('legacy without task', legacy({ task_id: undefined }));
    await verify('legacy null task', legacy({ task_id: null }));
    await verify('legacy bad base64', legacy({ proof_data: '!!!!' }));
    await verify('legacy not json', legacy({ public_inputs: Buffer.from('{').toString('base64') }));
    await verify('legacy over the cap', legacy({ public_inputs: 'A'.repeat(10 * 1024 + 4) }));
    await verify('legacy not a string', legacy({ proof_data: 5 }));
    await verify('proof of another protocol', modern({ proof: zkFixture('multiplier', 'plonk').proof }));
    await verify('unknown circuit', modern({ circuit_id: 'a'.repeat(64) }));
    await verify('unknown task', modern({ task_id: task }));

    const circuit = (name: string, patch: Record<string, unknown>) =>
      step(`circuit: ${name}`, 'POST', '/admin/circuits', admin, {
        ...circuitPayload('multiplier', 'plonk'),
        ...patch,
      });
    const plonk = zkFixture('multiplier', 'plonk');
    await step('circuit: empty object', 'POST', '/admin/circuits', admin, {});
    await circuit('blank name', { name: '   ' });
    await circuit('control character in name', { name: 'a\u0007b' });
    await circuit('name too long', { name: 'n'.repeat(129) });
    await circuit('unknown protocol', { protocol: 'snark' });
    await circuit('key of another protocol', { protocol: 'groth16' });
    await circuit('key with an extra field', { verification_key: { ...plonk.vkey, note: 'hi' } });
    await circuit('key not an object', { verification_key: 'x' });
    await circuit('wasm empty', { wasm: '' });
    await circuit('wasm not base64', { wasm: '***' });
    await circuit('wasm over the cap', { wasm: Buffer.alloc(2048).toString('base64') });
    await circuit('wasm not wasm', { wasm: Buffer.from('not wasm').toString('base64') });
    await circuit('zkey not zkey', { zkey: Buffer.from('not a zkey').toString('base64') });
    await circuit('wasm a number', { wasm: 5 });
    await circuit('unknown field', { extra: true });
    await step('circuit: malformed id', 'GET', '/circuits/xyz', user);
    await step('circuit: upper-case id', 'GET', `/circuits/${circuitId.toUpperCase()}`, user);
    await step('circuit: unknown id', 'GET', `/circuits/${'b'.repeat(64)}`, user);

    await step('key: get malformed id', 'GET', `/api-keys/${BAD_ID}`, user);
    await step('key: delete malformed id', 'DELETE', `/api-keys/${BAD_ID}`, user);
    await step('key: rotate malformed id', 'POST', `/api-keys/${BAD_ID}/rotate`, user, {});
    await step('key: rotate malformed id, bad body', 'POST', `/api-keys/${BAD_ID}/rotate`, user, {
      grace_seconds: -1,
    });
    await step('key: control character in name', 'POST', '/api-keys', user, {
      name: 'a\nb',
      scopes: ['tasks:read'],
    });
    await step('key: empty name', 'POST', '/api-keys', user, { name: '', scopes: ['tasks:read'] });
    await step('user: patch malformed id', 'PATCH', `/admin/users/${BAD_ID}`, admin, {});
    await step('user: patch malformed id, bad body', 'PATCH', `/admin/users/${BAD_ID}`, admin, {
      role: 'god',
    });
    await step('user: patch unknown id', 'PATCH', `/admin/users/${task}`, admin, { role: 'user' });
    await step('override: delete malformed id', 'DELETE', `/admin/throttle-overrides/${BAD_ID}`, admin);
    await step('override: bad subject', 'POST', '/admin/throttle-overrides', admin, {
      subject_type: 'api_key',
      subject_id: 'x',
      expires_at: '2000-01-01T00:00:00Z',
    });
    await step(
      'register: bad username',
      'POST',
      '/auth/register',
      {},
      {
        username: 'a b',
        password: 'correct horse battery',
      },
    );
    await step(
      'register: username too long',
      'POST',
      '/auth/register',
      {},
      {
        username: 'u'.repeat(33),
        password: 'correct horse battery',
      },
    );
    await step('audit: bad action', 'GET', '/admin/audit-log?action=Auth%20Login', admin);
    await step('audit: unknown action', 'GET', '/admin/audit-log?action=auth.unknown', admin);
    await step('audit: bad user id', 'GET', '/admin/audit-log?user_id=nope', admin);
    await step('tasks: bad circuit id', 'GET', '/tasks?circuit_id=nope', user);
    await step('page: bad cursor', 'GET', '/circuits?cursor=!!', user);
    await step(
      'page: tampered cursor',
      'GET',
      `/circuits?cursor=${Buffer.from('{"t":1}').toString('base64url')}`,
      user,
    );
    await step(
      'page: uuid cursor on circuits',
      'GET',
      `/circuits?cursor=${Buffer.from(JSON.stringify({ t: new Date(0).toISOString(), id: task })).toString('base64url')}`,
      user,
    );
    await step('page: limit 0', 'GET', '/admin/users?limit=0', admin);
    await step('page: limit negative', 'GET', '/admin/users?limit=-1', admin);
    await step('page: limit a word', 'GET', '/admin/audit-log?limit=ten', admin);
    // A body that is not an object is named as such, not validated as one (every field "required").
    const taskInArray = '[{"task_type":"computation","inputs":{},"requirements":{}}]';
    await step('body: an array holding the task', 'POST', '/tasks', user, taskInArray);
    await step('body: null', 'POST', '/tasks', user, 'null');
    await step('body: a string', 'POST', '/api-keys', user, '"key"');
    await step('body: a number', 'POST', '/auth/login', {}, '123');
    // Node joins a header sent twice with ", ".
    const twice = { ...user, 'idempotency-key': 'a1, a2' };
    await step('task: idempotency key twice', 'POST', '/tasks', twice, {
      task_type: 'computation',
      inputs: { program: 'expression', expression: '1+1' },
      requirements: { min_nodes: 1, max_execution_time_sec: 10 },
    });

    const me = await ctx.app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: admin });
    const adminId = me.json<{ user_id: string }>().user_id;
    await step('user: demote the last admin', 'PATCH', `/admin/users/${adminId}`, admin, { role: 'user' });
    await step('user: disable the last admin', 'PATCH', `/admin/users/${adminId}`, admin, { disabled: true });

    expectGolden('validation-errors.json', recorded);
  });
});
