import fc from 'fast-check';
import { useAdminApp } from '../support/admin';
import { LeasedRun, outputHash, receiptFor, TestAgent } from '../support/agent';
import { apiKeyHeader, bearer, newSession } from '../support/auth';
import { TEST_DEFAULTS } from '../support/config';
import {
  bodyKeys,
  encode,
  fuzzRuns,
  hostileBody,
  hostileHeaders,
  hostileQuery,
  hostileString,
  hostileValue,
  isErrorShape,
  OpenApiDocument,
  Route,
  routesOf,
  RUNS_PER_ROUTE,
  UNLIMITED_RATES,
} from '../support/fuzz';
import { getTask, submitTask } from '../support/tasks';
import { signReceipt } from '../../src/common/receipts/receipt';
import { RESULT_OUTCOMES } from '../../src/common/runs/run-outcomes';

/**
 * The node protocol's routes (`x-node-agent` in the OpenAPI document), fuzzed as a node calls them: with the key
 * of a registered node that has a public key, its own id where the path names the node, and, for a result, a
 * run leased to it at that moment, so the hostile input meets validation and the services, not the guard.
 */
type Answer = { status: number; body: string; request: string; ms: number; mayWaitMs: number };

/**
 * A claim may take as long as the long poll it validly asked for; anything else answers at once. 15 s past that
 * is a hang (generous: the CI machine's two cores are shared with other suites, and a hang is unbounded).
 */
const HANG_MS = 15_000;
const askedWait = (payload: unknown): number => {
  const wait = (payload as { wait_ms?: unknown } | null)?.wait_ms;
  return Number.isInteger(wait) && (wait as number) > 0 && (wait as number) <= 25_000 ? (wait as number) : 0;
};

describe('fuzzing the node protocol with a node’s own credentials', () => {
  const ctx = useAdminApp({ env: { ...TEST_DEFAULTS, ...UNLIMITED_RATES } });
  let doc: OpenApiDocument;
  let agent: TestAgent;
  let routes: Route[];
  let owners = 0;

  beforeAll(async () => {
    doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json<OpenApiDocument>();
    routes = routesOf(doc).filter((route) => route.operation['x-node-agent']);
    // Owned by another user than the tasks' creator (the admin), as in production.
    const owner = await newSession(ctx.app, 'fuzz_node_owner');
    agent = await TestAgent.register(ctx.app, bearer(owner.accessToken));
  });

  const admin = () => bearer(ctx.admin.accessToken);
  const nodeKey = () => apiKeyHeader(agent.node.node_api_key);

  async function leaseOne(): Promise<LeasedRun> {
    await submitTask(ctx.app, admin());
    const [run] = await agent.claim();
    if (run) return run;
    // The node holds as many leases as it may (refused results keep theirs): a fresh node of a fresh owner.
    agent = await TestAgent.register(
      ctx.app,
      bearer((await newSession(ctx.app, `fuzz_owner_${++owners}`)).accessToken),
    );
    const [next] = await agent.claim();
    if (!next) throw new Error('no run leased');
    return next;
  }

  const send = async (
    method: Route['method'],
    url: string,
    payload: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<Answer> => {
    const hasBody = method !== 'GET' && method !== 'DELETE';
    const started = performance.now();
    const res = await ctx.app.inject({
      method,
      url,
      headers: { ...extraHeaders, ...nodeKey(), ...(hasBody ? { 'content-type': 'application/json' } : {}) },
      ...(hasBody ? { payload: JSON.stringify(payload) ?? 'null' } : {}),
    });
    return {
      status: res.statusCode,
      body: res.body,
      ms: performance.now() - started,
      mayWaitMs: url.includes('/claim') ? askedWait(payload) : 0,
      request: `${method} ${url.slice(0, 160)} ${JSON.stringify(extraHeaders)} ${JSON.stringify(payload)?.slice(0, 300)}`,
    };
  };

  /** No 5xx (503 is the documented overload answer), no hang, and every refusal in the documented shape. */
  const failuresIn = (answers: Answer[]) =>
    answers
      .filter(
        (a) =>
          (a.status >= 500 && a.status !== 503) ||
          !isErrorShape(a.status, a.body) ||
          a.ms > a.mayWaitMs + HANG_MS,
      )
      .map((a) => `${a.request} → ${a.status} in ${Math.round(a.ms)} ms ${a.body.slice(0, 200)}`);
  const countOf = (answers: Answer[]) =>
    answers.reduce<Record<number, number>>(
      (acc, a) => ({ ...acc, [a.status]: (acc[a.status] ?? 0) + 1 }),
      {},
    );

  it('covers the node protocol: claim, result, release, heartbeat, module and circuit downloads', () => {
    expect(routes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      expect.arrayContaining([
        'POST /api/v1/nodes/{node_id}/claim',
        'POST /api/v1/runs/{run_id}/result',
        'POST /api/v1/runs/{run_id}/release',
        'PUT /api/v1/nodes/{node_id}/heartbeat',
        'GET /api/v1/modules/{module_id}/download',
      ]),
    );
  });

  it('every node route but the result: hostile bodies, queries and ids reach validation, never a 5xx', async () => {
    const perRoute: Record<string, Record<number, number>> = {};
    const failures: string[] = [];
    for (const { path, method, operation } of routes) {
      if (path.endsWith('/result')) continue;
      const nodeParam = operation['x-node-agent']!.node_param;
      const answers: Answer[] = [];
      await fc.assert(
        fc.asyncProperty(
          // Not empty: `/circuits/` is the list, another route, whose guard rightly refuses a node key.
          fc.oneof(
            hostileString.filter((text) => text !== ''),
            fc.uuid(),
          ),
          hostileBody(bodyKeys(doc, operation)),
          hostileQuery(operation, false),
          hostileHeaders(operation),
          async (param, payload, query, extraHeaders) => {
            // The node's own id where the path names the node: another's is a 404 before validation.
            const url =
              path.replace(/\{([^}]+)\}/g, (_, name: string) =>
                name === nodeParam ? agent.nodeId : encode(param),
              ) + query;
            answers.push(await send(method, url, payload, extraHeaders));
            return true;
          },
        ),
        fuzzRuns(RUNS_PER_ROUTE, 1307),
      );
      const counts = countOf(answers);
      perRoute[`${method} ${path}`] = counts;
      failures.push(...failuresIn(answers));
    }
    expect(failures).toEqual([]);
    for (const [route, counts] of Object.entries(perRoute)) {
      // Proper credentials: the guard and the throttle let every request through, and validation refused some.
      expect({ route, refusedByGuard: (counts[401] ?? 0) + (counts[403] ?? 0) + (counts[429] ?? 0) }).toEqual(
        {
          route,
          refusedByGuard: 0,
        },
      );
      expect({ route, validation: (counts[422] ?? 0) > 0 }).toEqual({ route, validation: true });
    }
  });

  /**
   * What signatures do and do not block. The node signs fence, outcome, output_hash (bound to `output` by the
   * server's hash check), execution_time_ms and, for zk_proof, the proof: any of them changed after signing is
   * a 422 `signature_invalid` and the task is queued again, never completed or failed. stdout, stderr,
   * exit_code and gas_used are outside the receipt, so a node (which holds its key) can send anything there:
   * only validation guards them, and a re-signed hostile body meets validation alone. Hence the checks: a
   * refused result leaves its task unfinished, and an accepted one stores the output the node signed.
   */
  it('a result: hostile bodies, and valid bodies with one field made hostile (signed or not), on a leased run', async () => {
    const route = routes.find((r) => r.path.endsWith('/result'))!;
    const keys = bodyKeys(doc, route.operation);
    const signed = new Set(['fence', 'outcome', 'output', 'output_hash', 'execution_time_ms', 'signature']);
    const answers: Answer[] = [];
    const broken: string[] = [];
    const reasons = new Map<string, number>();
    // Mostly no header: a malformed Claim-Next or Idempotency-Key refuses the result before its signature is read.
    const headers = fc.oneof(
      { weight: 3, arbitrary: fc.constant({}) },
      { weight: 1, arbitrary: hostileHeaders(route.operation) },
    );
    const mutation = fc.record({
      outcome: fc.constantFrom(...RESULT_OUTCOMES),
      key: fc.constantFrom(...keys),
      // Plausible values too (another fence, outcome, hash or time): they pass validation and meet the signature.
      value: fc.option(
        fc.oneof(
          hostileValue,
          fc.constantFrom(...RESULT_OUTCOMES, outputHash(7)),
          fc.nat({ max: 86_400_000 }),
          fc.bigInt({ min: 1n, max: 2n ** 62n }).map(String),
        ),
        { nil: undefined },
      ),
      resign: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileBody(keys), mutation), headers, async (input, extraHeaders) => {
        const run = await leaseOne();
        const isMutation = typeof input === 'object' && input !== null && 'resign' in input && 'key' in input;
        let payload: unknown = input;
        let forged = false;
        if (isMutation) {
          const { outcome, key, value, resign } = input as {
            outcome: string;
            key: string;
            value: unknown;
            resign: boolean;
          };
          const body: Record<string, unknown> = {
            fence: run.fence,
            outcome,
            output: 6,
            output_hash: outputHash(6),
            stdout: '',
            stderr: '',
            exit_code: outcome === 'ok' ? 0 : null,
            execution_time_ms: 12,
          };
          body.signature = signReceipt(receiptFor(run, body), agent.keys.privateKey);
          // A plausible value may equal the signed one (a small fence): then nothing was forged.
          const changed = JSON.stringify(body[key]) !== JSON.stringify(value);
          body[key] = value;
          let resigned = false;
          if (resign && key !== 'signature') {
            try {
              body.signature = signReceipt(receiptFor(run, body), agent.keys.privateKey);
              resigned = true;
            } catch {
              // A value the receipt cannot hold (an object without a prototype as the fence): sent as it is.
            }
          }
          // A signed part changed after signing (`undefined` drops a required field: validation refuses it).
          forged = signed.has(key) && !resigned && value !== undefined && changed;
          payload = body;
        }
        const answer = await send('POST', `/api/v1/runs/${run.run_id}/result`, payload, extraHeaders);
        answers.push(answer);
        const reason =
          answer.status === 200
            ? 'accepted'
            : `${answer.status} ${JSON.parse(answer.body).reason ?? JSON.parse(answer.body).error}`;
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
        const task = await getTask(ctx.app, run.task_id, admin());
        const finished = ['completed', 'failed'].includes(task.status);
        if (answer.status !== 200 && finished) broken.push(`refused but ${task.status}: ${answer.request}`);
        if (answer.status === 200 && forged) broken.push(`forged but accepted: ${answer.request}`);
        if (answer.status === 200 && task.status === 'completed' && task.result !== 6)
          broken.push(`stored ${JSON.stringify(task.result)}: ${answer.request}`);
        return true;
      }),
      fuzzRuns(RUNS_PER_ROUTE * 3, 1309),
    );
    expect(failuresIn(answers)).toEqual([]);
    expect(broken).toEqual([]);
    // The requests got past the guard and validation too: some were accepted, some failed their signature.
    expect(answers.filter((a) => [401, 403, 429].includes(a.status))).toEqual([]);
    expect(Object.fromEntries(reasons)).toEqual(
      expect.objectContaining({ accepted: expect.any(Number), '422 signature_invalid': expect.any(Number) }),
    );
    expect(reasons.get('422 validation_error')).toBeGreaterThan(RUNS_PER_ROUTE);
  });
});
