import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { request, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/** Parses a complete `text/event-stream` body: its messages (in order) and how many comment lines it held. */
export function parseSse(text: string): { messages: SseMessage[]; comments: number; retry?: number } {
  const messages: SseMessage[] = [];
  let comments = 0;
  let retry: number | undefined;
  for (const block of text.split('\n\n')) {
    if (block === '') continue;
    const message: SseMessage = { data: '' };
    let hasData = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) comments++;
      else if (line.startsWith('id: ')) message.id = line.slice(4);
      else if (line.startsWith('event: ')) message.event = line.slice(7);
      else if (line.startsWith('data: ')) {
        message.data += line.slice(6);
        hasData = true;
      } else if (line.startsWith('retry: ')) retry = Number(line.slice(7));
    }
    if (hasData) messages.push(message);
  }
  return { messages, comments, retry };
}

/** A real HTTP client on an SSE stream: what it received so far, and whether the server ended it. */
export class SseClient {
  private text = '';
  readonly response: Promise<IncomingMessage>;
  readonly ended: Promise<void>;
  private res: IncomingMessage | undefined;
  private endedFlag = false;

  constructor(url: string, headers: Record<string, string>) {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } });
    this.response = new Promise((resolve, reject) => {
      req.on('response', (res) => {
        this.res = res;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (this.text += chunk));
        resolve(res);
      });
      req.on('error', reject);
    });
    this.ended = this.response.then(
      (res) =>
        new Promise<void>((resolve) => {
          const done = () => {
            this.endedFlag = true;
            resolve();
          };
          res.on('end', done);
          res.on('close', done);
        }),
    );
    req.end();
  }

  get received() {
    return parseSse(this.text);
  }

  /** Everything received so far, comments included (parseSse counts comments, not their text). */
  get body(): string {
    return this.text;
  }

  get isEnded(): boolean {
    return this.endedFlag;
  }

  /** Drops the connection from the client side. */
  close(): void {
    this.res?.destroy();
  }
}

/**
 * For a describe block whose app (`ctx`, from useTestApp/useAdminApp) listens on a port once booted:
 * `stream(taskId, accessToken, headers)` opens a task's event stream as a real client; every stream opened
 * is closed after each test.
 */
export function useTaskStreams(ctx: { app: NestFastifyApplication }) {
  let baseUrl = '';
  const clients: SseClient[] = [];
  beforeAll(async () => {
    await ctx.app.listen(0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(ctx.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
  });
  return {
    stream(taskId: string, accessToken: string, headers: Record<string, string> = {}): SseClient {
      const client = new SseClient(`${baseUrl}/api/v1/tasks/${taskId}/events`, {
        authorization: `Bearer ${accessToken}`,
        ...headers,
      });
      clients.push(client);
      return client;
    },
  };
}
