import { randomUUID } from 'node:crypto';
import { IncomingHttpHeaders, IncomingMessage, ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { errorCodeForStatus } from '../errors/error-code';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { afterPendingAnswers, answeredInFull, pendingStream } from './closed-by-client';
import { longLivedKindOf } from './long-lived';
import { requestIdFor } from './request-id';
import { API_CSP, staticSecurityHeaders } from './security-headers';

let socketHeaders: Readonly<Record<string, string>> | undefined;

/**
 * The headers the security hooks put on every API response (helmet's static set, the API CSP, no-store), for
 * answers written straight to the socket, where no Fastify hook runs. One list, so the two cannot drift.
 */
function socketAnswerHeaders(): Readonly<Record<string, string>> {
  return (socketHeaders ??= Object.freeze({
    ...staticSecurityHeaders(),
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': API_CSP,
    connection: 'close',
  }));
}

function statusFor(error: NodeJS.ErrnoException): number {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 408;
  if (error.code === 'HPE_HEADER_OVERFLOW') return 431;
  return 400;
}

const MESSAGES: Record<number, string> = {
  408: 'The request was not received in time',
  431: 'Request headers are too large',
  400: 'Malformed HTTP request',
  417: 'The only expectation supported is "Expect: 100-continue"',
};

/** The API's JSON error body and the headers of an answer no Fastify hook sees (request id included). */
function errorAnswer(status: number, requestId: string): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({
    error: errorCodeForStatus(status),
    message: MESSAGES[status],
    request_id: requestId,
  });
  const headers = {
    ...socketAnswerHeaders(),
    'x-request-id': requestId,
    'content-length': String(Buffer.byteLength(body)),
  };
  return { body, headers };
}

function tellListeners(fastify: object | undefined, refused: RefusedRequest): void {
  const listeners = fastify ? listenersByServer.get(fastify) : undefined;
  for (const listener of listeners ?? []) listener(refused);
}

/** A request Node's parser refused, as the request line and the HTTP metrics see it: no Fastify request exists. */
export interface RefusedRequest {
  requestId: string;
  status: number;
  /** Node's error code: HPE_HEADER_OVERFLOW, HPE_INVALID_HEADER_TOKEN, ERR_HTTP_REQUEST_TIMEOUT… */
  code: string;
  /** What arrived of the request, when it can be told: the parsed head, or the request line of a raw packet. */
  method?: string;
  url?: string;
  headers?: IncomingHttpHeaders;
  socket: Socket;
}

export type ClientErrorListener = (refused: RefusedRequest) => void;

const listenersByServer = new WeakMap<object, ClientErrorListener[]>();

/**
 * Registers `listener` for the requests the HTTP parser of `fastify`'s server refused (answerClientError runs
 * before the app exists, so the request logger and the HTTP metrics register here). Called once per answer.
 */
export function onClientErrorAnswered(fastify: object, listener: ClientErrorListener): void {
  listenersByServer.set(fastify, [...(listenersByServer.get(fastify) ?? []), listener]);
}

const REQUEST_LINE = /^([A-Z]{1,20}) ([\x21-\x7e]{1,2048}) HTTP\/1\.[01]\r?\n/;

/**
 * The method, URL and headers of the refused request, when Node got that far: a request whose head was parsed
 * and whose body is still arriving (a timeout) is the parser's `incoming` (an internal field, read defensively;
 * a complete one is an earlier request of the connection); otherwise the request line the refused head starts
 * with in the packet the parser refused, if it is there.
 */
function whatArrived(error: NodeJS.ErrnoException, socket: Socket): Partial<RefusedRequest> {
  const incoming = (socket as { parser?: { incoming?: IncomingMessage | null } }).parser?.incoming;
  if (incoming?.method && !incoming.complete) {
    // Its head was handed to Fastify, which may log it too (a body cut off is also the app's "client
    // aborted"): the same id joins the lines.
    const requestId = requestIdFor(incoming);
    return { requestId, method: incoming.method, url: incoming.url, headers: incoming.headers };
  }
  const { rawPacket: packet, bytesParsed } = error as { rawPacket?: unknown; bytesParsed?: unknown };
  if (!Buffer.isBuffer(packet)) return {};
  const lineAt = (start: number) =>
    REQUEST_LINE.exec(packet.subarray(start, start + 2100).toString('latin1'));
  // Requests pipelined before it may fill the start of the packet: its head is the last one that begins (after
  // a blank line) before the point the parser stopped; else the packet's first.
  const stop = typeof bytesParsed === 'number' ? bytesParsed : 0;
  let line: RegExpExecArray | null = null;
  for (let blank = packet.lastIndexOf('\r\n\r\n', stop); blank >= 0 && !line;) {
    if (blank + 4 < stop) line = lineAt(blank + 4);
    blank = blank > 0 ? packet.lastIndexOf('\r\n\r\n', blank - 1) : -1;
  }
  line ??= lineAt(0);
  return line ? { method: line[1], url: line[2] } : {};
}

/** How long a refused request's answer waits for the answers of the requests pipelined before it. */
const PIPELINED_ANSWERS_WAIT_MS = 30_000;
const REFUSED = Symbol('vcp.refused');

/**
 * Fastify's `clientErrorHandler` (called with the Fastify instance as `this`): Node's HTTP parser refused the
 * request (malformed, headers too large, a body cut off) or it did not arrive within HTTP_REQUEST_TIMEOUT_MS.
 * No Fastify hook runs for this answer, so the API's JSON error body, the request id (the request's own when
 * its head had arrived and Fastify had it, else a fresh one) and the security headers are written here by
 * hand, and the listeners (request line, metrics) are told. Requests pipelined before it get their answers
 * first (anything written while one is pending would corrupt it for the client); behind a stream of events,
 * which has no end to wait for, the connection is closed without an answer.
 */
export function answerClientError(
  this: object | undefined,
  error: NodeJS.ErrnoException,
  socket: Socket & { [REFUSED]?: true },
): void {
  // One refusal per connection: the parser may report the rest of its input again while earlier answers go out.
  if (error.code === 'ECONNRESET' || socket.destroyed || socket[REFUSED]) return;
  socket[REFUSED] = true;
  const status = statusFor(error);
  const close = () => {
    // end() rather than destroy(): destroying with unread input makes the kernel send a RST that can discard
    // the answer before the client reads it (see lingering-close.ts); a stalled client is cut off by the timer.
    socket.end();
    setTimeout(() => socket.destroy(), 1_000).unref();
  };
  const incoming = (socket as { parser?: { incoming?: IncomingMessage | null } }).parser?.incoming;
  // Answered already (a 413 before its body, which the client went on sending and then cut off): a second
  // answer would follow the first on the wire, and a second log line and count would describe one request.
  if (incoming && !incoming.complete && answeredInFull(incoming)) return close();
  const arrived = whatArrived(error, socket);
  const requestId = arrived.requestId ?? randomUUID();
  // A refused request after answered ones on a keep-alive connection is answered too (a 431 for a grown cookie
  // must not look like a dropped connection), in its turn: after the requests pipelined before it.
  const answer = () => {
    if (socket.writable) {
      const { body, headers } = errorAnswer(status, requestId);
      const head = Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('');
      socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n${body}`);
      tellListeners(this, { ...arrived, requestId, status, code: error.code ?? 'unknown', socket });
    }
    close();
  };
  if (!socket.writable || pendingStream(socket, isStream)) return close();
  const backstop = setTimeout(() => socket.destroy(), PIPELINED_ANSWERS_WAIT_MS).unref();
  afterPendingAnswers(socket, () => {
    clearTimeout(backstop);
    answer();
  });
}

const isStream = (reply: FastifyReply) =>
  longLivedKindOf(reply.request, reply.request.routeOptions.config, reply.statusCode) === 'stream';

/**
 * Node's `checkExpectation`: a request with an `Expect` other than `100-continue`, which Node would answer with
 * a bare 417 (no body, no request id, no security headers) and never hand to Fastify. It gets the API's 417
 * here, closes the connection (the body the client holds back is never read) and is logged and counted as the
 * parser's refusals are.
 */
export function registerExpectationAnswer(fastify: FastifyInstance): void {
  fastify.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = requestIdFor(req);
    const { body, headers } = errorAnswer(417, requestId);
    res.writeHead(417, headers).end(body);
    const { method, url, socket } = req;
    const code = 'EXPECTATION_FAILED';
    tellListeners(fastify, { requestId, status: 417, code, method, url, headers: req.headers, socket });
  });
}
