import { createServer, IncomingHttpHeaders, IncomingMessage, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy does, once, to the next request that matches. */
export type Fault =
  /** Forward it, let the server answer in full, then cut the client's connection: the answer is lost. */
  | { kind: 'lose-answer' }
  /** Answer it from the proxy without forwarding (a documented answer the server would give, such as a 503). */
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body: unknown }
  /** Forward it and pass the server's answer on with its body rewritten. */
  | { kind: 'rewrite'; rewrite(body: string): string };

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** When the proxy received it (ms since the epoch), and what the client got (0: nothing, connection cut). */
  at: number;
  status: number;
}

const collect = async (stream: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/**
 * An HTTP proxy in front of a real server for a client under test: it records every request and can lose an
 * answer the server gave, answer in the server's place, or rewrite an answer, each once for a matching request.
 * Everything else (event streams included) is streamed through as it is.
 */
export class FaultProxy {
  readonly requests: ProxiedRequest[] = [];
  private readonly faults: { method: string; path: RegExp; fault: Fault }[] = [];
  private server: Server | null = null;

  constructor(private readonly target: string) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      void collect(req).then((body) => {
        const seen: ProxiedRequest = {
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          at: Date.now(),
          status: 0,
        };
        this.requests.push(seen);
        const index = this.faults.findIndex((f) => f.method === seen.method && f.path.test(seen.path));
        const fault = index < 0 ? undefined : this.faults.splice(index, 1)[0].fault;
        if (fault?.kind === 'answer') {
          seen.status = fault.status;
          res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
          res.end(JSON.stringify(fault.body));
          return;
        }
        const upstream = request(`${this.target}${seen.path}`, { method: seen.method, headers: req.headers });
        upstream.on('error', () => res.destroy());
        upstream.on('response', (answer) => {
          if (!fault) {
            seen.status = answer.statusCode ?? 0;
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            return;
          }
          void collect(answer).then((received) => {
            if (fault.kind === 'lose-answer') return void req.socket.destroy();
            const text = fault.rewrite(received.toString('utf8'));
            seen.status = answer.statusCode ?? 0;
            res.writeHead(seen.status, {
              ...answer.headers,
              'content-length': String(Buffer.byteLength(text)),
            });
            res.end(text);
          });
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Applies `fault` to the next `method` request whose path (with its query) matches. */
  once(method: string, path: RegExp, fault: Fault): void {
    this.faults.push({ method, path, fault });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
