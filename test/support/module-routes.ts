import { useTestApp } from './app';
import { apiKeyHeader, bearer, newSession, Session } from './auth';

/** WASM_MAX_MODULE_BYTES and BODY_LIMIT_BYTES of the module route tests. */
export const CAP = 64 * 1024;
export const BODY_LIMIT = 1024 * 1024;

export interface Reply {
  status: number;
  headers: Headers;
  bytes: Buffer;
  json: <T = Record<string, unknown>>() => T;
}

/** `n` arrays around `inner`, as JSON text. */
export const nestedText = (n: number, inner = '1') => '['.repeat(n) + inner + ']'.repeat(n);
/** The path findDeepJsonViolation gives for the container `n` levels below `root`. */
export const indexPath = (root: string, n: number) => root + '[0]'.repeat(n);

/**
 * The app of the module route tests, listening on a port (requests go through Node's HTTP client, so body
 * parsing, content types and limits are the ones a client meets), with one user (`alice`) and helpers.
 */
export function useModuleRoutes() {
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
  return {
    ctx,
    call,
    auth,
    uploadWasm,
    uploadJson,
    run,
    details,
    keyWith,
    get alice() {
      return alice;
    },
  };
}
