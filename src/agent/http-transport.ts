import { randomUUID } from 'node:crypto';
import {
  AnswerTooLargeError,
  MAX_DOWNLOAD_BYTES,
  networkFailure,
  nodeFetch,
  redirectedTo,
} from './node-fetch';
import { parseRetryAfter } from './pacing';
import {
  AgentTransport,
  ANSWER_TOO_LARGE,
  CircuitInfo,
  HeartbeatAnswer,
  HeartbeatBody,
  LeasedRun,
  ResultBody,
  SubmitAnswer,
  isAnswerTooLarge,
  TransportError,
} from './transport';

/** Slack beyond a long poll's wait before the agent gives up on the answer. */
const CLAIM_SLACK_MS = 15_000;
const CALL_TIMEOUT_MS = 30_000;
/** Downloads may be large (a proving key): they get longer. */
const DOWNLOAD_TIMEOUT_MS = 300_000;

interface ErrorBody {
  error?: string;
  reason?: string;
  message?: string;
}

/**
 * What sends the requests: nodeFetch, or a wrapper around a fetch (tests replay every request through one).
 * `maxBodyBytes`: the most of the answer nodeFetch reads (a fetch ignores it).
 */
export type Fetch = (
  input: string | URL | Request,
  init?: RequestInit & { maxBodyBytes?: number },
) => Promise<Response>;

/** The node protocol over HTTP(S) with the node's key, against a server on any machine. */
export class HttpTransport implements AgentTransport {
  private readonly base: string;
  /** The Idempotency-Key of a claim whose answer never arrived: its retry is the same claim. */
  private unansweredClaimKey: string | null = null;
  /** The same for the claim a result carries (Claim-Next; the agent has at most one in flight). */
  private unansweredClaimNextKey: string | null = null;
  /** How far the server's clock is ahead of this machine's, from its last answer's `Date` (0 before one). */
  private clockOffsetMs = 0;

  constructor(
    server: string,
    private readonly nodeId: string,
    private readonly nodeKey: string,
    private readonly send: Fetch = nodeFetch,
    /** The most of a JSON answer read (undefined: nodeFetch's MAX_ANSWER_BYTES); tests set a small one. */
    private readonly maxAnswerBytes?: number,
  ) {
    this.base = `${server.replace(/\/+$/, '')}/api/v1`;
  }

  async heartbeat(body: HeartbeatBody, signal?: AbortSignal, timeoutMs?: number): Promise<HeartbeatAnswer> {
    const path = `/nodes/${this.nodeId}/heartbeat`;
    // Whole milliseconds: AbortSignal.timeout throws on a fraction (a third of a lease is one), so no beat went.
    const options = { signal, timeoutMs: Math.ceil(Math.min(CALL_TIMEOUT_MS, timeoutMs ?? CALL_TIMEOUT_MS)) };
    return answerOf<HeartbeatAnswer>(await this.call('PUT', path, body, options), 'PUT', path);
  }

  /**
   * A claim whose answer is lost (network error, timeout, 5xx) is retried by the agent with the same
   * Idempotency-Key, so the server answers with the runs it leased then instead of leasing more: runs this
   * node never learned about would sit leased until they expire, counted against it as lost.
   */
  async claim(
    max: number,
    waitMs: number,
    signal: AbortSignal,
    slackMs = CLAIM_SLACK_MS,
  ): Promise<LeasedRun[]> {
    const key = (this.unansweredClaimKey ??= randomUUID());
    try {
      const path = `/nodes/${this.nodeId}/claim`;
      const res = await this.call(
        'POST',
        path,
        { max, wait_ms: waitMs },
        { timeoutMs: waitMs + slackMs, signal, headers: { 'idempotency-key': key } },
      );
      const runs = res.status === 204 ? [] : runsOf(await answerOf(res, 'POST', path), 'runs', path);
      this.unansweredClaimKey = null;
      return runs;
    } catch (error) {
      // A refusal is an answer: the next claim is a new one. Anything else may have leased runs unseen. An
      // answer too large to read would come again, as large, for the same key: those runs expire unseen.
      if (error instanceof TransportError && (!error.retryable || isAnswerTooLarge(error)))
        this.unansweredClaimKey = null;
      throw error;
    }
  }

  async submit(
    runId: string,
    body: ResultBody,
    claimNext?: number,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<SubmitAnswer> {
    const headers: Record<string, string> = {};
    if (claimNext !== undefined) {
      headers['claim-next'] = String(claimNext);
      headers['idempotency-key'] = this.unansweredClaimNextKey ??= randomUUID();
    }
    try {
      const path = `/runs/${runId}/result`;
      const res = await this.call('POST', path, body, { headers, signal, timeoutMs });
      const answer = await answerOf<{
        task_status: string;
        run_status?: string;
        next_runs?: unknown;
      }>(res, 'POST', path);
      const next = answer.next_runs === undefined ? undefined : runsOf(answer, 'next_runs', path);
      if (claimNext !== undefined) this.unansweredClaimNextKey = null;
      return {
        accepted: true,
        taskStatus: answer.task_status,
        runStatus: answer.run_status,
        next,
      };
    } catch (error) {
      // A refusal is an answer (nothing was claimed); anything else may have leased runs unseen. An answer
      // too large to read would come again for the same key (see claim).
      const answered = error instanceof TransportError && (!error.retryable || isAnswerTooLarge(error));
      if (claimNext !== undefined && answered) {
        this.unansweredClaimNextKey = null;
      }
      if (error instanceof TransportError && error.status === 409 && error.code === 'lease_lost') {
        return { accepted: false, reason: 'lease_lost' };
      }
      throw error;
    }
  }

  serverNow(): number {
    return Date.now() + this.clockOffsetMs;
  }

  async release(runId: string, fence: string, signal: AbortSignal): Promise<void> {
    await this.call('POST', `/runs/${runId}/release`, { fence }, { signal });
  }

  async module(moduleId: string): Promise<Uint8Array> {
    return this.download(`/modules/${moduleId}/download`);
  }

  async circuit(circuitId: string): Promise<CircuitInfo> {
    const path = `/circuits/${circuitId}`;
    return answerOf<CircuitInfo>(await this.call('GET', path), 'GET', path);
  }

  circuitArtifact(circuitId: string, kind: 'wasm' | 'zkey'): Promise<Uint8Array> {
    return this.download(`/circuits/${circuitId}/${kind}`);
  }

  private async download(path: string): Promise<Uint8Array> {
    const res = await this.call('GET', path, undefined, {
      timeoutMs: DOWNLOAD_TIMEOUT_MS,
      maxBodyBytes: MAX_DOWNLOAD_BYTES,
      // Its Date is when the first of up to a GiB of bytes left: read once the last arrived (minutes later, on a
      // slow link), it would put the server's clock that far behind.
      clockless: true,
    });
    return new Uint8Array(await res.arrayBuffer());
  }

  /** One request; a network error, a 5xx or a 429 is a retryable TransportError, another non-2xx is not. */
  private async call(
    method: string,
    path: string,
    body?: unknown,
    options: {
      timeoutMs?: number;
      signal?: AbortSignal;
      headers?: Record<string, string>;
      maxBodyBytes?: number;
      /** The answer's Date says nothing of the server's clock now (see download). */
      clockless?: boolean;
    } = {},
  ): Promise<Response> {
    // Whole milliseconds: AbortSignal.timeout throws on a fraction.
    const timeout = AbortSignal.timeout(Math.ceil(options.timeoutMs ?? CALL_TIMEOUT_MS));
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    let res: Response;
    try {
      res = await this.send(`${this.base}${path}`, {
        method,
        // The key travels only in a header (never in the URL, which the server refuses and logs redacted).
        headers: {
          'x-api-key': this.nodeKey,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        maxBodyBytes: options.maxBodyBytes ?? this.maxAnswerBytes,
      });
    } catch (error) {
      const tooLarge = (error as { cause?: unknown }).cause instanceof AnswerTooLargeError;
      const code = tooLarge ? ANSWER_TOO_LARGE : null;
      throw new TransportError(`${method} ${path}: ${networkFailure(error)}`, true, null, code);
    }
    // Leases and Retry-After dates are on the server's clock, and this machine's may be off by minutes. `Date`
    // has whole seconds (rounded down): a second more errs towards a lease that ends sooner, beats that come
    // earlier.
    const serverDate = Date.parse(res.headers.get('date') ?? '');
    if (Number.isFinite(serverDate) && !options.clockless)
      this.clockOffsetMs = serverDate + 1_000 - Date.now();
    if (res.ok) return res;
    if (res.status >= 300 && res.status < 400) {
      throw new TransportError(`${method} ${path}: ${redirectedTo(res)}`, false, res.status);
    }
    const answer = (await res.json().catch(() => ({}))) as ErrorBody;
    const retryable = res.status >= 500 || res.status === 429;
    throw new TransportError(
      `${method} ${path}: ${res.status} ${answer.error ?? ''} ${answer.message ?? ''}`.trim(),
      retryable,
      res.status,
      answer.reason ?? answer.error ?? null,
      retryable
        ? parseRetryAfter(
            res.headers.get('retry-after'),
            Number.isFinite(serverDate) ? serverDate : Date.now(),
          )
        : null,
    );
  }
}

/**
 * A 2xx answer's JSON object. Anything else (a proxy's HTML page, a body cut short) is retryable like a lost
 * answer, and says which call got it, where JSON.parse would say only "Unexpected token".
 */
async function answerOf<T = Record<string, unknown>>(
  res: Response,
  method: string,
  path: string,
): Promise<T> {
  const answer: unknown = await res.json().catch(() => undefined);
  if (typeof answer === 'object' && answer !== null && !Array.isArray(answer)) {
    return answer as T;
  }
  const type = res.headers.get('content-type') ?? 'no content type';
  throw new TransportError(
    `${method} ${path}: ${res.status} with a body that is not a JSON object (${type})`,
    true,
  );
}

/** The leased runs of a claim's (or a result's) answer: a list, else the answer is unusable. */
function runsOf(answer: object, field: string, path: string): LeasedRun[] {
  const runs = (answer as Record<string, unknown>)[field];
  if (Array.isArray(runs)) return runs as LeasedRun[];
  throw new TransportError(`POST ${path}: the answer's ${field} is not a list`, true);
}
