import { createServer, connect, Server, Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of a real service, so a test can make that service unreachable (drop every
 * connection and refuse new ones) and bring it back, without stopping the shared server itself.
 */
export class TcpProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;
  /**
   * While set, new connections are accepted and then left unanswered (nothing is forwarded either way): a
   * server that hangs, or a path that swallows packets. They stay so until stop().
   */
  unanswering = false;
  /** The connections left unanswered and still open, with what their clients sent (a startup message, say). */
  readonly held = new Set<{ received: string }>();
  /**
   * While set, a connection whose client sends a chunk containing it (case-insensitive) has that chunk and all
   * it sends after held back until release(): a server slow to take one command (a SUBSCRIBE, say).
   */
  holdFrom: string | null = null;
  private readonly heldBack = new Set<() => void>();
  /** The forwarded connections still open, with what their clients sent first, and a way to silence them. */
  private readonly forwarded = new Set<{ received: string; silence(): void }>();

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<number> {
    if (this.server) return this.port;
    const server = createServer((client) => {
      if (this.unanswering) {
        const held = { received: '' };
        this.held.add(held);
        this.sockets.add(client);
        client.on('data', (chunk: Buffer) => (held.received += chunk.toString('latin1')));
        client.once('close', () => {
          this.sockets.delete(client);
          this.held.delete(held);
        });
        client.on('error', () => client.destroy());
        return;
      }
      const upstream = connect(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      // Client bytes are written by hand (not piped) so that they can be held back or dropped.
      let silenced = false;
      let heldBack: Buffer[] | null = null;
      const forwarded = {
        received: '',
        silence: () => {
          silenced = true;
          upstream.unpipe(client);
          upstream.on('data', () => undefined); // read and dropped, as the client's bytes are
        },
      };
      this.forwarded.add(forwarded);
      client.once('close', () => this.forwarded.delete(forwarded));
      client.on('data', (chunk: Buffer) => {
        if (forwarded.received.length < 4096) forwarded.received += chunk.toString('latin1');
        if (silenced) return;
        const marker = this.holdFrom?.toLowerCase();
        if (!heldBack && marker && chunk.toString('latin1').toLowerCase().includes(marker)) {
          heldBack = [];
          this.heldBack.add(() => {
            for (const held of heldBack ?? []) upstream.write(held);
            heldBack = null;
          });
        }
        if (heldBack) heldBack.push(chunk);
        else upstream.write(chunk);
      });
      client.once('end', () => upstream.end());
      upstream.pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this.port;
  }

  /**
   * The open connections whose client sent `marker` (a PostgreSQL startup message names its application) go
   * silent: nothing more is forwarded either way, and neither end is told (no FIN, no reset), as when a path
   * drops packets or a host vanishes. Returns how many.
   */
  blackHole(marker: string): number {
    let count = 0;
    for (const connection of this.forwarded) {
      if (!connection.received.includes(marker)) continue;
      connection.silence();
      this.forwarded.delete(connection);
      count++;
    }
    return count;
  }

  /** How many connections have bytes held back (holdFrom). */
  get heldBackCount(): number {
    return this.heldBack.size;
  }

  /** Stops holding back, and forwards what was held, in order. */
  release(): void {
    this.holdFrom = null;
    for (const flush of this.heldBack) flush();
    this.heldBack.clear();
  }

  /** The service becomes unreachable: open connections are cut and new ones refused. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
