/**
 * A round-robin TCP load balancer on loopback, the piece a deployment puts in front of its API replicas. A
 * backend that refuses the connection (a replica that is down) is skipped for the next one; connections
 * already open to a replica that dies are cut, as a real balancer's would be.
 */
import { connect, createServer, Server, Socket } from 'node:net';

export class Balancer {
  private server: Server | null = null;
  private next = 0;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly backends: () => number[]) {}

  async start(): Promise<number> {
    const server = createServer((client) => this.route(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
    return this.port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private route(client: Socket, tried = 0): void {
    this.track(client);
    client.pause();
    const ports = this.backends();
    if (tried >= ports.length) {
      client.destroy();
      return;
    }
    const port = ports[this.next++ % ports.length];
    const upstream = connect(port, '127.0.0.1');
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      this.track(upstream);
      client.pipe(upstream).pipe(client);
      client.resume();
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    upstream.on('error', () => {
      if (connected) upstream.destroy();
      else if (!client.destroyed) this.route(client, tried + 1);
    });
  }

  private track(socket: Socket): void {
    if (this.sockets.has(socket)) return;
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }
}
