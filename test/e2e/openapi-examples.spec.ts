import { generateKeyPairSync } from 'node:crypto';
import { OPERATION_SUMMARIES } from '../../src/openapi/operation-summaries';
import { AdminAppContext, useAdminApp } from '../support/admin';
import { apiKeyHeader, bearer, newSession } from '../support/auth';
import { Headers, registerNode } from '../support/nodes';
import type { Json, OpenApiDocument } from '../support/openapi';
import { swaggerUiSampler, TryItOut, tryItOuts } from '../support/openapi-examples';
import { finalTask } from '../support/task-waits';
import { postTask, submitTask, TaskInfo } from '../support/tasks';
import { fixture } from '../support/wasm';

/** A node without a public key gets no work (403): an agent registers one. */
function agentPublicKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  return publicKey.export({ format: 'der', type: 'spki' }).subarray(12).toString('base64');
}

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

/** The body of one of an operation's examples, as offered. */
function exampleBody(offers: TryItOut[], call: string, label: string): Json {
  const offer = offers.find((o) => `${o.method} ${o.path}` === call)!;
  return offer.bodies.find((b) => b.label === label)!.body as Json;
}

/**
 * Registers the circuit exactly as POST /admin/circuits' multiplier_with_prover example does (nothing the spec
 * adds), so the examples that name it show they run once a person has done that; its circuit_id.
 */
async function registerExampleCircuit(app: AdminAppContext['app'], admin: Headers, offers: TryItOut[]) {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/admin/circuits',
    headers: admin,
    payload: exampleBody(offers, 'POST /api/v1/admin/circuits', 'multiplier_with_prover'),
  });
  expect([res.statusCode, res.body]).toEqual([201, expect.stringContaining('"wasm_sha256":"')]);
  return res.json<{ circuit_id: string }>().circuit_id;
}

/** One "Try it out" as Swagger UI would send it, and what the server answered. */
interface Tried {
  call: string;
  label: string;
  body: unknown;
  status: number;
  answer: string;
}

/**
 * Why an answer to an example sent unchanged is a defect of the example, or undefined when it is not. Refusals
 * of the request's form (400, 415, 422) are; so is a 401 or 403 with valid credentials on a route that takes
 * them, and any 5xx. A public route's 401 is the documented answer to an example token or password nobody has.
 */
function defect(tried: Tried, secured: boolean): string | undefined {
  const { status } = tried;
  const refused =
    [400, 413, 415, 422].includes(status) || status >= 500 || (secured && [401, 403].includes(status));
  return refused
    ? `${tried.call} [${tried.label}] ${JSON.stringify(tried.body)} → ${status} ${tried.answer}`
    : undefined;
}

describe('every example in the OpenAPI document, sent as Swagger UI sends it', () => {
  const ctx: AdminAppContext = useAdminApp({ database: 'pglite' });
  let doc: OpenApiDocument;
  let offers: TryItOut[];
  /** The real resources a person would have created first, by path parameter. */
  let ids: Record<string, string>;
  let admin: Headers;
  /** For the routes only an API key may call (a user's own). */
  let apiKey: Headers;
  let nodeKey: Headers;
  let tried: { tried: Tried; secured: boolean }[];

  async function tryOut(offer: TryItOut, headers: Headers, body: unknown, label: string): Promise<Tried> {
    let url = offer.path;
    const query = new URLSearchParams();
    const sent: Headers = { ...headers };
    for (const parameter of offer.parameters) {
      if (parameter.in === 'path') {
        // An example names an id that may not exist (a 404 is then its answer); without one, a person's own.
        const value =
          parameter.value ?? ids[`${offer.path} ${parameter.name}`] ?? ids[parameter.name] ?? UNKNOWN_ID;
        url = url.replace(`{${parameter.name}}`, encodeURIComponent(String(value)));
      } else if (parameter.value !== undefined) {
        if (parameter.in === 'query') query.set(parameter.name, String(parameter.value));
        if (parameter.in === 'header') sent[parameter.name.toLowerCase()] = String(parameter.value);
      }
    }
    const search = query.toString();
    const res = await ctx.app.inject({
      method: offer.method as 'GET',
      url: search ? `${url}?${search}` : url,
      headers: sent,
      ...(body === undefined ? {} : { payload: body as object }),
    });
    return {
      call: `${offer.method} ${offer.path}`,
      label,
      body,
      status: res.statusCode,
      answer: res.body.slice(0, 400),
    };
  }

  async function tryAll(offer: TryItOut): Promise<void> {
    const nodeAgent = offer.operation['x-node-agent'] !== undefined;
    const schemes = ((offer.operation.security ?? []) as Json[]).flatMap((s) => Object.keys(s));
    let headers = nodeAgent ? nodeKey : schemes.includes('bearer') ? admin : apiKey;
    // It ends every session of its caller: a session of its own, so the admin's stays.
    if (offer.path === '/api/v1/auth/logout-all')
      headers = bearer((await newSession(ctx.app, 'leaver')).accessToken);
    // It ends every session too, and its example's current_password must be the caller's: a session whose
    // password is the example's (newSession's), so the example is sent with valid credentials, as stated.
    if (offer.path === '/api/v1/auth/password')
      headers = bearer((await newSession(ctx.app, 'changer')).accessToken);
    const secured = schemes.length > 0;
    const bodies = offer.bodies.length > 0 ? offer.bodies : [{ label: 'no body', body: undefined }];
    for (const { label, body } of bodies)
      tried.push({ tried: await tryOut(offer, secured ? headers : {}, body, label), secured });
  }

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    offers = tryItOuts(doc, swaggerUiSampler());
    admin = bearer(ctx.admin.accessToken);
    const alice = await newSession(ctx.app, 'alice');
    // The node an agent's routes act as; another for its owner's routes (a key rotation, a rejection, a deletion).
    const agent = await registerNode(ctx.app, admin, { public_key: agentPublicKey() });
    nodeKey = apiKeyHeader(agent.node_api_key);
    const node = await registerNode(ctx.app, admin);
    apiKey = apiKeyHeader(alice.apiKey);
    const upload = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/modules',
      headers: { ...admin, 'content-type': 'application/wasm' },
      payload: fixture('echo'),
    });
    // No node here has a GPU: the task stays pending, so it can still be cancelled.
    const task = await submitTask(ctx.app, admin, {
      requirements: { min_nodes: 1, max_execution_time_sec: 30, require_gpu: true },
    });
    const key = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: admin,
      payload: { name: 'explorer', scopes: ['tasks:read'] },
    });
    const override = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/admin/throttle-overrides',
      headers: admin,
      payload: {
        subject_type: 'user',
        subject_id: alice.userId,
        rpm: 100,
        burst: 10,
        expires_at: '2099-01-01T00:00:00Z',
      },
    });
    // Its events stream until the task ends: a person watches one that has (a cancelled one, here).
    const ended = await submitTask(ctx.app, admin, {
      requirements: { min_nodes: 1, max_execution_time_sec: 30, require_gpu: true },
    });
    await ctx.app.inject({ method: 'POST', url: `/api/v1/tasks/${ended.task_id}/cancel`, headers: admin });
    ids = {
      '/api/v1/tasks/{task_id}/events task_id': ended.task_id,
      node_id: node.node_id,
      ...Object.fromEntries(
        offers
          .filter((o) => o.operation['x-node-agent'] !== undefined && o.path.includes('{node_id}'))
          .map((o) => [`${o.path} node_id`, agent.node_id]),
      ),
      module_id: upload.json<{ module_id: string }>().module_id,
      task_id: task.task_id,
      key_id: key.json<{ key_id: string }>().key_id,
      circuit_id: await registerExampleCircuit(ctx.app, admin, offers),
      // Its sample disables the account: one of its own, so alice's key stays valid.
      '/api/v1/admin/users/{id} id': (await newSession(ctx.app, 'patched')).userId,
      '/api/v1/admin/throttle-overrides/{id} id': override.json<{ override_id: string }>().override_id,
    };
    tried = [];
    // Deletions last, as a person would: until then every id above still names something.
    const deletions = offers.filter((o) => o.method === 'DELETE');
    for (const offer of offers.filter((o) => o.method !== 'DELETE')) await tryAll(offer);
    for (const offer of deletions) await tryAll(offer);
  }, 120_000);

  it('offers a body for every operation that takes one, and tries each', () => {
    const takesJson = offers.filter((o) => {
      const content = (o.operation.requestBody as Json | undefined)?.content as Json | undefined;
      return content?.['application/json'] !== undefined;
    });
    expect(takesJson.filter((o) => o.bodies.length === 0).map((o) => `${o.method} ${o.path}`)).toEqual([]);
    expect(new Set(tried.map((t) => t.tried.call)).size).toBe(offers.length);
  });

  it('accepts each example unchanged: no validation refusal, no 5xx, no 401/403 with valid credentials', () => {
    const defects = tried.map(({ tried: t, secured }) => defect(t, secured)).filter(Boolean);
    expect(defects).toEqual([]);
  });

  it('verifies the proof example against the circuit the registration example registers', () => {
    const verified = tried.find((t) => t.tried.call === 'POST /api/v1/proofs/verify')!.tried;
    expect([verified.status, verified.answer]).toEqual([200, expect.stringContaining('"valid":true')]);
  });

  it('accepts the zk_proof task example on the circuit the registration example registers', () => {
    const zk = exampleBody(offers, 'POST /api/v1/tasks', 'zk_proof');
    expect(zk.circuit_id).toBe(ids.circuit_id);
    const submitted = tried.find(
      (t) => t.tried.call === 'POST /api/v1/tasks' && t.tried.label === 'zk_proof',
    )!;
    expect([submitted.tried.status, submitted.tried.answer]).toEqual([
      201,
      expect.stringContaining('"pending"'),
    ]);
  });

  it('pre-fills no optional filter: a list tried out as offered shows what exists', () => {
    // Swagger UI puts an optional query parameter's example in its field, so it is sent as a filter.
    const prefilled = offers.flatMap((o) =>
      ((o.operation.parameters ?? []) as Json[])
        .filter((p) => p.in === 'query' && p.required !== true)
        .filter((p) => p.example !== undefined || (p.schema as Json | undefined)?.example !== undefined)
        .map((p) => `${o.method} ${o.path} ?${String(p.name)}`),
    );
    expect(prefilled).toEqual([]);
    const list = tried.find((t) => t.tried.call === 'GET /api/v1/tasks')!.tried;
    expect(list.status).toBe(200);
    expect(list.answer).toMatch(/^\{"items":\[\{"task_id"/);
  });

  it('names each operation in a line, and tells the Authorize dialog what to paste for each scheme', () => {
    const unnamed = offers.filter((o) => !o.operation.summary).map((o) => `${o.method} ${o.path}`);
    expect(unnamed).toEqual([]);
    const stale = Object.keys(OPERATION_SUMMARIES).filter(
      (key) => !offers.some((o) => `${o.method} ${o.path}` === key),
    );
    expect(stale).toEqual([]);
    const schemes = (doc.components as unknown as { securitySchemes: Record<string, Json> }).securitySchemes;
    expect(Object.keys(schemes)).toEqual(['bearer', 'api-key']);
    expect(schemes.bearer.description).toMatch(/access_token/);
    // Node keys go in the same header: the dialog must say so, or a node's routes look unreachable.
    expect(schemes['api-key'].description).toMatch(/node key/);
  });

  it('would report a broken example (negative control)', async () => {
    const register = offers.find((o) => o.path === '/api/v1/auth/register')!;
    const { body } = register.bodies[0];
    const accepted = await tryOut(register, {}, { ...(body as Json), username: 'x' }, 'broken');
    expect(defect(accepted, false)).toMatch(/POST \/api\/v1\/auth\/register \[broken\].* → 422/);
    const tasks = offers.find((o) => o.path === '/api/v1/tasks' && o.method === 'POST')!;
    const unknownField = await tryOut(
      tasks,
      admin,
      { ...(tasks.bodies[0].body as Json), colour: 'red' },
      'broken',
    );
    expect(defect(unknownField, true)).toMatch(/→ 422/);
    const unauthorized = await tryOut(tasks, {}, tasks.bodies[0].body, 'no credentials');
    expect(defect(unauthorized, true)).toMatch(/→ 401/);
  });
});

describe('the zk_proof task example, with an embedded node', () => {
  const ctx: AdminAppContext = useAdminApp({ database: 'pglite', env: { EMBEDDED_NODE: 'auto' } });

  it('completes once the registration example is registered: the node proves 3 · 11 = 33', async () => {
    const doc = (
      await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })
    ).json<OpenApiDocument>();
    const offers = tryItOuts(doc, swaggerUiSampler());
    const admin = bearer(ctx.admin.accessToken);
    await registerExampleCircuit(ctx.app, admin, offers);
    const submitted = await postTask(ctx.app, admin, exampleBody(offers, 'POST /api/v1/tasks', 'zk_proof'));
    expect(submitted.statusCode).toBe(201);
    const task = submitted.json<TaskInfo>();
    const done = await finalTask(ctx.app, task.task_id, admin);
    expect(done).toMatchObject({ status: 'completed', result: { public_signals: ['33', '11'] } });
    expect(done.proof_id).toMatch(/^[0-9a-f-]{36}$/);
  }, 60_000);
});
