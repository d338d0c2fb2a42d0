import { useTestApp } from '../support/app';
import { expectGolden, RecordedResponse } from '../support/golden';
import { apiKeyHeader, bearer, login } from '../support/auth';
import { fixture } from '../support/wasm';
import { circuitPayload, verifyBody } from '../support/zk';

/**
 * The wire format of the main routes, recorded once (`UPDATE_GOLDEN=1`) and compared on every run, so a
 * refactor cannot change a status, a field name or an error code unnoticed. Ids, times, tokens and keys are
 * masked; everything else is compared exactly.
 */
const ADMIN = { username: 'golden_admin', password: 'golden admin password' };

const MASKS: [RegExp, string][] = [
  [/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, '<uuid>'],
  [/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, '<time>'],
  [/^vcp_[0-9A-Za-z]{46}$/, '<api_key>'],
  [/^vcp_[0-9A-Za-z]{8}$/, '<key_prefix>'],
  [/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/, '<jwt>'],
  [/^[A-Za-z0-9_-]{40,}$/, '<token>'],
];
/** Fields whose values vary between runs for reasons other than their format. */
const VOLATILE = new Set([
  'execution_time_ms',
  'uptime_seconds',
  'version',
  'latency_ms',
  'verification_time_ms',
]);

function mask(value: unknown, key = ''): unknown {
  if (VOLATILE.has(key) && value !== null) return `<${typeof value}>`;
  if (Array.isArray(value)) return value.map((v) => mask(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v, k)]));
  }
  if (typeof value === 'string') {
    for (const [pattern, replacement] of MASKS) if (pattern.test(value)) return replacement;
    if (key === 'username' && /^golden_/.test(value)) return value;
  }
  return value;
}

describe('golden responses of the main routes', () => {
  const ctx = useTestApp({
    database: 'pglite',
    env: { ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password, WASM_DEFAULT_RUNTIME: 'v8' },
  });
  const recorded: Record<string, RecordedResponse> = {};

  async function step(
    name: string,
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    headers: Record<string, string> = {},
    payload?: unknown,
  ) {
    const res = await ctx.app.inject({
      method,
      url,
      headers,
      ...(payload === undefined ? {} : { payload: payload as object }),
    });
    const isJson = res.headers['content-type']?.toString().includes('json');
    const body = res.body.length > 0 && isJson ? res.json() : res.body;
    recorded[name] = { status: res.statusCode, body: mask(body) };
    return { status: res.statusCode, body: body as Record<string, any> };
  }

  it('match the recorded wire format', async () => {
    await step('health', 'GET', '/api/v1/health');
    await step('health ready', 'GET', '/api/v1/health/ready');
    await step('unknown route', 'GET', '/api/v1/nope');

    const registered = await step(
      'register',
      'POST',
      '/api/v1/auth/register',
      {},
      {
        username: 'golden_user',
        password: 'golden user password',
      },
    );
    await step(
      'register duplicate',
      'POST',
      '/api/v1/auth/register',
      {},
      {
        username: 'golden_user',
        password: 'golden user password',
      },
    );
    await step('register invalid', 'POST', '/api/v1/auth/register', {}, { username: 'x', password: 'short' });
    await step(
      'login wrong password',
      'POST',
      '/api/v1/auth/login',
      {},
      {
        username: 'golden_user',
        password: 'not the password',
      },
    );
    const tokens = await step(
      'login',
      'POST',
      '/api/v1/auth/login',
      {},
      {
        username: 'golden_user',
        password: 'golden user password',
      },
    );
    const auth = bearer(tokens.body.access_token as string);
    await step('me', 'GET', '/api/v1/auth/me', auth);
    await step('me anonymous', 'GET', '/api/v1/auth/me');
    await step(
      'validate key',
      'GET',
      '/api/v1/auth/api-key/validate',
      apiKeyHeader(registered.body.api_key as string),
    );
    const refreshed = await step(
      'refresh',
      'POST',
      '/api/v1/auth/refresh',
      {},
      {
        refresh_token: tokens.body.refresh_token,
      },
    );
    await step(
      'refresh reused',
      'POST',
      '/api/v1/auth/refresh',
      {},
      { refresh_token: tokens.body.refresh_token },
    );
    const session = await login(ctx.app, 'golden_user', 'golden user password');
    const user = bearer(session.access_token);
    void refreshed;

    const key = await step('create key', 'POST', '/api/v1/api-keys', user, {
      name: 'ci',
      scopes: ['tasks:read'],
    });
    await step('create key invalid scope', 'POST', '/api/v1/api-keys', user, {
      name: 'ci',
      scopes: ['nope'],
    });
    await step('create key admin scope', 'POST', '/api/v1/api-keys', user, {
      name: 'x',
      scopes: ['admin:users'],
    });
    await step('list keys', 'GET', '/api/v1/api-keys', user);
    await step('get key', 'GET', `/api/v1/api-keys/${key.body.key_id}`, user);
    await step('rotate key', 'POST', `/api/v1/api-keys/${key.body.key_id}/rotate`, user, {
      grace_seconds: 60,
    });
    await step('revoke key', 'DELETE', `/api/v1/api-keys/${key.body.key_id}`, user);
    await step('rotate key invalid', 'POST', `/api/v1/api-keys/${key.body.key_id}/rotate`, user, {
      grace_period_seconds: 0,
    });
    await step('get key bad id', 'GET', '/api/v1/api-keys/not-a-uuid', user);

    const wasm = fixture('echo');
    const uploaded = await step('upload module', 'POST', '/api/v1/modules', user, {
      wasm_module: wasm.toString('base64'),
    });
    await step('upload module again', 'POST', '/api/v1/modules', user, {
      wasm_module: wasm.toString('base64'),
    });
    await step('upload module invalid', 'POST', '/api/v1/modules', user, { wasm_module: 'AAAA' });
    const moduleId = uploaded.body.module_id as string;
    await step('module metadata', 'GET', `/api/v1/modules/${moduleId}`, user);
    await step('module unknown', 'GET', `/api/v1/modules/${'0'.repeat(64)}`, user);
    await step('run module', 'POST', `/api/v1/modules/${moduleId}/run`, user, {
      inputs: { hello: 'world' },
      deterministic: true,
    });
    await step('run module bad body', 'POST', `/api/v1/modules/${moduleId}/run`, user, { timeout_ms: -1 });

    const adminTokens = await login(ctx.app, ADMIN.username, ADMIN.password);
    const admin = bearer(adminTokens.access_token);
    const circuit = await step('register circuit', 'POST', '/api/v1/admin/circuits', admin, {
      ...circuitPayload('multiplier', 'groth16'),
      name: 'golden multiplier',
    });
    await step(
      'register circuit as user',
      'POST',
      '/api/v1/admin/circuits',
      user,
      circuitPayload('multiplier', 'groth16'),
    );
    await step('list circuits', 'GET', '/api/v1/circuits', user);
    await step('get circuit', 'GET', `/api/v1/circuits/${circuit.body.circuit_id}`, user);
    const ids = { 'multiplier.groth16': circuit.body.circuit_id as string };
    await step(
      'verify proof',
      'POST',
      '/api/v1/proofs/verify',
      user,
      verifyBody(ids, 'multiplier', 'groth16'),
    );
    await step(
      'verify proof wrong signals',
      'POST',
      '/api/v1/proofs/verify',
      user,
      verifyBody(ids, 'multiplier', 'groth16', { public_signals: ['34', '11'] }),
    );
    await step('verify proof malformed', 'POST', '/api/v1/proofs/verify', user, { circuit_id: 'x' });
    const circuitUrl = `/api/v1/admin/circuits/${circuit.body.circuit_id}`;
    await step('delete circuit as user', 'DELETE', circuitUrl, user);
    // Its proofs above reference it: retired, not deleted.
    await step('retire circuit', 'DELETE', circuitUrl, admin);
    await step(
      'verify proof retired circuit',
      'POST',
      '/api/v1/proofs/verify',
      user,
      verifyBody(ids, 'multiplier', 'groth16'),
    );
    await step('restore circuit', 'POST', `${circuitUrl}/restore`, admin);
    await step('restore circuit as user', 'POST', `${circuitUrl}/restore`, user);
    const unused = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/circuits',
      headers: admin,
      payload: circuitPayload('multiplier', 'plonk'),
    });
    const unusedUrl = `/api/v1/admin/circuits/${unused.json().circuit_id}`;
    await step('delete circuit', 'DELETE', unusedUrl, admin);
    await step('delete circuit unknown', 'DELETE', unusedUrl, admin);
    await step('restore circuit unknown', 'POST', `${unusedUrl}/restore`, admin);

    await step('admin list users', 'GET', '/api/v1/admin/users?limit=1', admin);
    await step('admin users as user', 'GET', '/api/v1/admin/users', user);
    await step('admin patch user', 'PATCH', `/api/v1/admin/users/${registered.body.user_id}`, admin, {
      role: 'user',
    });
    await step('admin audit log', 'GET', '/api/v1/admin/audit-log?limit=2&action=auth.login', admin);
    const override = await step('create override', 'POST', '/api/v1/admin/throttle-overrides', admin, {
      subject_type: 'user',
      subject_id: registered.body.user_id,
      tier: 'elevated',
      rpm: 100,
      burst: 10,
      expires_at: '2999-01-01T00:00:00Z',
    });
    await step('list overrides', 'GET', '/api/v1/admin/throttle-overrides', admin);
    await step(
      'delete override',
      'DELETE',
      `/api/v1/admin/throttle-overrides/${override.body.override_id}`,
      admin,
    );
    // The original's {prompt}: its own view shows the program inputs it was stored (and is hashed) as.
    const task = await step('submit task', 'POST', '/api/v1/tasks', user, {
      task_type: 'computation',
      inputs: { prompt: 'what is 2+2?' },
      requirements: { min_nodes: 1, max_execution_time_sec: 60 },
    });
    await step('get task', 'GET', `/api/v1/tasks/${task.body.task_id}`, user);
    await step('list tasks', 'GET', '/api/v1/tasks', user);
    await step('cancel task', 'POST', `/api/v1/tasks/${task.body.task_id}/cancel`, user);
    await step('logout-all', 'POST', '/api/v1/auth/logout-all', user);
    const again = bearer((await login(ctx.app, 'golden_user', 'golden user password')).access_token);
    const change = (current_password: string) => ({ current_password, new_password: 'golden new password' });
    await step('change password wrong', 'POST', '/api/v1/auth/password', again, change('not the password'));
    await step('change password', 'POST', '/api/v1/auth/password', again, change('golden user password'));

    expectGolden('responses.json', recorded);
  });
});
