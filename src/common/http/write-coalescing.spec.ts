import { createServer, Server as HttpServer } from 'node:http';
import { AddressInfo, connect, createServer as createTcpServer, Server, Socket } from 'node:net';
import { WriteCoalescer } from './write-coalescing';

const turnEnd = () => new Promise<void>((resolve) => setImmediate(resolve));
const listening = async <T extends Server | HttpServer>(server: T): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};

/** Counts the socket's own write calls (what reaches the kernel), installed before the coalescer wraps them. */
function countWrites(socket: Socket): { calls: number } {
  const counter = { calls: 0 };
  const writable = socket as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const hook of ['_write', '_writev'] as const) {
    const own = writable[hook];
    writable[hook] = (...args: unknown[]) => {
      counter.calls++;
      own.apply(socket, args);
    };
  }
  return counter;
}

describe('WriteCoalescer', () => {
  let server: Server;
  let port: number;
  let accepted: Promise<Socket>;
  const clients: Socket[] = [];

  beforeEach(async () => {
    let accept: (socket: Socket) => void;
    accepted = new Promise((resolve) => (accept = resolve));
    server = createTcpServer((socket) => {
      socket.on('error', () => undefined); // the client's side is destroyed at the end of each test
      accept(socket);
    });
    port = await listening(server);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  const pair = async () => {
    const client = connect(port, '127.0.0.1');
    clients.push(client);
    client.on('error', () => undefined); // a reset when the test destroys the server's side
    let received = '';
    client.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const socket = await accepted;
    return { socket, received: () => received, client };
  };

  it('sends the writes of one turn when the turn ends, in order', async () => {
    const { socket, received } = await pair();
    const writes = countWrites(socket);
    new WriteCoalescer().coalesce(socket);
    socket.write('a');
    socket.write('b');
    await Promise.resolve(); // microtasks of the same turn: still held
    expect(writes.calls).toBe(0);
    await turnEnd();
    expect(writes.calls).toBeGreaterThan(0);
    for (let i = 0; i < 400 && received() !== 'ab'; i++) await new Promise((r) => setTimeout(r, 5));
    expect(received()).toBe('ab');
  });

  it('without it, a write reaches the socket at once (negative control)', async () => {
    const { socket } = await pair();
    const writes = countWrites(socket);
    socket.write('a');
    expect(writes.calls).toBe(1);
  });

  it('a socket destroyed before the turn ends fails its write without throwing', async () => {
    const { socket } = await pair();
    new WriteCoalescer().coalesce(socket);
    const outcome = new Promise<Error | null | undefined>((resolve) => socket.write('lost', resolve));
    socket.on('error', () => undefined);
    socket.destroy();
    await turnEnd();
    // Node's own error (another realm than the test's Error): the socket refused the write it no longer can do.
    expect(await outcome).toMatchObject({
      code: expect.stringMatching(/^ERR_(SOCKET_CLOSED|STREAM_DESTROYED)$/),
    });
  });
});

describe('WriteCoalescer on an HTTP server', () => {
  let server: HttpServer;
  let port: number;

  beforeAll(async () => {
    server = createServer((request, response) => {
      // Answered out of order in time: each after a delay that depends on its path.
      const n = Number(request.url?.slice(1));
      setTimeout(() => response.end(`body ${n}`), (n % 3) * 2);
    });
    new WriteCoalescer().attach(server);
    port = await listening(server);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('answers concurrent requests, each with its own body', async () => {
    const bodies = await Promise.all(
      Array.from({ length: 40 }, (_, n) => fetch(`http://127.0.0.1:${port}/${n}`).then((res) => res.text())),
    );
    expect(bodies).toEqual(Array.from({ length: 40 }, (_, n) => `body ${n}`));
  });

  it('keeps pipelined responses on one connection in request order', async () => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.write(
      [5, 4, 3].map((n) => `GET /${n} HTTP/1.1\r\nHost: x\r\n\r\n`).join('') +
        'GET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    await new Promise((resolve) => socket.on('close', resolve));
    expect([...received.matchAll(/body (\d)/g)].map((match) => match[1])).toEqual(['5', '4', '3', '2']);
  });
});
