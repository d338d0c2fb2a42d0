import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Fetch } from './http-transport';
import { certificateProblem } from './tls-failure';
import { AGENT_VERSION } from './version';

/** Names the agent in the server's request lines and audit rows (a node's registration, a refused key). */
const USER_AGENT = `vcp-agent/${AGENT_VERSION}`;

/** Connections kept open to the server: an agent has a claim, a heartbeat and a few results in flight. */
const MAX_SOCKETS = 16;
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });

const MIB = 1024 * 1024;
/**
 * The most of an answer the agent reads, unless the request says otherwise (`maxBodyBytes`): a JSON answer (a
 * claim of 16 runs with their inputs among them). A server or proxy that sends more gets the request failed,
 * never the agent's memory.
 */
export const MAX_ANSWER_BYTES = 256 * MIB;
/** A module or a circuit artifact: the most a server stores (WASM_MAX_MODULE_BYTES, CIRCUIT_ZKEY_MAX_BYTES). */
export const MAX_DOWNLOAD_BYTES = 1024 * MIB;

/**
 * The agent's fetch: node:http(s) on keep-alive connections, the answer buffered into a `Response`. The
 * global fetch (undici's WHATWG streams, Headers and Request objects) cost the agent about twice the CPU per
 * request, and an agent makes two or three requests for every run it executes. Only what the agent sends is
 * supported: a method, string headers, a string body and an abort signal; of the answer's headers, those in
 * READ_HEADERS. TLS is verified as by fetch (the defaults of node:https). Redirects are not followed (the key
 * goes to the server given, nowhere else), and an answer is read up to `maxBodyBytes`.
 */
export const nodeFetch: Fetch = (input, init = {}) =>
  new Promise<Response>((resolve, reject) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const https = url.protocol === 'https:';
    const send = https ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: init.method ?? 'GET',
        headers: { 'user-agent': USER_AGENT, ...(init.headers as Record<string, string> | undefined) },
        agent: https ? httpsAgent : httpAgent,
        signal: init.signal ?? undefined,
      },
      (res: IncomingMessage) => {
        const maxBytes = init.maxBodyBytes ?? MAX_ANSWER_BYTES;
        // Listened to first: the answer cut off below fails it too, and an unheard error would end the agent.
        res.on('error', (error) => reject(failed(error)));
        let refused = false;
        // Failed here, not through req.destroy(error): an answer read whole already would end (resolving with
        // its body cut short) and that error go unheard. The connection is closed, the rest never read.
        const refuse = () => {
          refused = true;
          reject(failed(new AnswerTooLargeError(maxBytes)));
          req.destroy();
        };
        // Refused before a byte is read when the answer says it is too long, else as soon as it gets too long.
        if (Number(res.headers['content-length']) > maxBytes) return refuse();
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          if (refused) return;
          bytes += chunk.byteLength;
          if (bytes > maxBytes) refuse();
          else chunks.push(chunk);
        });
        res.on('end', () => {
          if (refused) return;
          const status = res.statusCode ?? 0;
          const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
          resolve(new Response(body, { status, headers: headersRead(res) }));
        });
      },
    );
    req.on('error', (error) => reject(failed(error)));
    req.end(typeof init.body === 'string' ? init.body : undefined);
  });

/** An answer past `maxBodyBytes`: asking the same again gets the same answer (see HttpTransport.claim). */
export class AnswerTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the answer is larger than ${maxBytes / MIB} MiB, the most the agent reads`);
    this.name = 'AnswerTooLargeError';
  }
}

/** The answer's headers the agent reads (a full Headers object per answer costs CPU for nothing). */
const READ_HEADERS = [
  'content-type',
  'retry-after',
  'date',
  'sunset',
  'x-api-key-replaced-by',
  'location',
] as const;

function headersRead(res: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of READ_HEADERS) {
    const value = res.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return headers;
}

/** Rejects like fetch does: a TypeError whose cause is the network error (an abort stays an AbortError). */
function failed(error: Error): Error {
  if (error.name === 'AbortError') return error;
  return new TypeError('fetch failed', { cause: error });
}

/**
 * What a redirect answer says for an operator: where it points and that it was not followed (following it
 * would send the key to wherever a proxy points).
 */
export function redirectedTo(res: Response): string {
  const location = (res.headers.get('location') ?? 'nowhere').slice(0, 200);
  return `${res.status} redirect to ${location}, not followed: give the URL the server answers on as --server`;
}

/**
 * A failed request's network cause, as fetch and nodeFetch report it (`ECONNREFUSED`), else its message; a
 * TLS certificate failure with what it means and the way out (certificateProblem).
 */
export function networkFailure(error: unknown): string {
  // Not instanceof Error: errors from node's own realm (an abort's) fail it under a test runner's vm context.
  if (typeof error !== 'object' || error === null) return String(error);
  const { name, message } = error as { name?: string; message?: string };
  const cause = (error as { cause?: { name?: string; code?: unknown; message?: string } }).cause;
  // An abort's cause is the signal's reason, a DOMException whose numeric code (23) says nothing to a person.
  if (name === 'TimeoutError' || cause?.name === 'TimeoutError') return 'timed out';
  if (name === 'AbortError') return 'aborted';
  const certificate = certificateProblem(cause?.code);
  if (certificate) return certificate;
  return (typeof cause?.code === 'string' ? cause.code : undefined) ?? cause?.message ?? String(message);
}
