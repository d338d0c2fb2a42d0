import type { Fetch } from '../../src/agent/http-transport';

/** Which agent request an exchange was. */
export type RequestKind = 'validate' | 'register' | 'heartbeat' | 'claim' | 'result' | 'download' | 'other';

export interface Answer {
  status: number;
  body: string;
}

/** One request as the agent made it, sent twice: both answers, the second being the one the agent got. */
export interface Exchange {
  kind: RequestKind;
  method: string;
  path: string;
  first: Answer;
  second: Answer;
}

export function kindOf(method: string, path: string): RequestKind {
  if (path.endsWith('/auth/api-key/validate')) return 'validate';
  if (method === 'POST' && path.endsWith('/api/v1/nodes')) return 'register';
  if (/\/nodes\/[^/]+\/heartbeat$/.test(path)) return 'heartbeat';
  if (/\/nodes\/[^/]+\/claim$/.test(path)) return 'claim';
  if (/\/runs\/[^/]+\/result$/.test(path)) return 'result';
  if (method === 'GET' && (/\/modules\/[^/]+\/download$/.test(path) || path.includes('/circuits/')))
    return 'download';
  return 'other';
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
  return headers;
}

/** The answer as text (downloads as base64), and a fresh Response carrying the same bytes for the caller. */
async function read(res: Response): Promise<{ answer: Answer; response: Response }> {
  const bytes = Buffer.from(await res.arrayBuffer());
  const binary = (res.headers.get('content-type') ?? '').startsWith('application/json') === false;
  const response = new Response(bytes.length === 0 ? null : bytes, {
    status: res.status,
    statusText: res.statusText,
    headers: res.headers,
  });
  return {
    answer: { status: res.status, body: binary ? bytes.toString('base64') : bytes.toString('utf8') },
    response,
  };
}

/**
 * A fetch that sends every request twice, one after the other, and hands the agent the second answer: what a
 * retry after a lost answer looks like (the server acted on the first, the client acts on the last). With
 * `stripClaimKeys`, claims and results (which carry one with Claim-Next) go out without their
 * Idempotency-Key, or with `'results'` only results (the negative control: an agent that
 * cannot be replayed safely).
 */
export class ReplayingFetch {
  readonly exchanges: Exchange[] = [];

  constructor(private readonly options: { stripClaimKeys?: boolean | 'results' } = {}) {}

  readonly fetch: Fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? 'GET').toUpperCase();
    const kind = kindOf(method, url.pathname);
    const headers = headersOf(init);
    // A result's Idempotency-Key is the key of the claim it carries (Claim-Next).
    const strip = this.options.stripClaimKeys;
    if ((strip === true && kind === 'claim') || (strip && kind === 'result')) {
      delete headers['idempotency-key'];
    }
    const send = () => fetch(url, { ...init, headers });
    // Bodies here are strings (JSON), so the same init can be sent again.
    const first = await read(await send());
    const second = await read(await send());
    this.exchanges.push({ kind, method, path: url.pathname, first: first.answer, second: second.answer });
    return second.response;
  };

  of(kind: RequestKind): Exchange[] {
    return this.exchanges.filter((exchange) => exchange.kind === kind);
  }
}
