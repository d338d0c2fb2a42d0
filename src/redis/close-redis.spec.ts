import Redis from 'ioredis';
import { AddressInfo, createServer, Server, Socket } from 'node:net';
import { closeRedis } from './close-redis';

/** A "Redis" on loopback that accepts connections and never answers, nor closes its side (a paused server). */
async function silentServer(): Promise<{ server: Server; sockets: Socket[]; port: number }> {
  const sockets: Socket[] = [];
  const server = createServer({ allowHalfOpen: true }, (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, sockets, port: (server.address() as AddressInfo).port };
}

describe('closeRedis', () => {
  it('leaves no socket behind on a client whose Redis never answered', async () => {
    const { server, sockets, port } = await silentServer();
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: null });
    try {
      client.connect().catch(() => undefined); // never ready: the server does not answer the ready check
      await new Promise<void>((resolve) => client.once('connect', resolve));
      expect(client.status).toBe('connect');

      await closeRedis(client);
      // Destroyed now, not half-closed for ioredis's 2 s disconnect timer (with disconnect() alone this is
      // false: the socket stays open, waiting for a side that the server never closes).
      expect(client.stream.destroyed).toBe(true);
    } finally {
      client.disconnect();
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });

  it('starts nothing on a client closed before', async () => {
    // E.g. one RedisConnection gave up on (a refused database); real Redis, as the integration tests use.
    const client = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true });
    await client.connect();
    await client.quit();
    await new Promise<void>((resolve) => (client.status === 'end' ? resolve() : client.once('end', resolve)));
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    await closeRedis(client);
    // disconnect() on an ended client would keep a 2 s timer for a socket that closed long ago.
    expect(timers()).toBe(before);
  });
});
