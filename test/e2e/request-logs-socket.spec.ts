import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { useTestApp } from '../support/app';
import { LogCapture } from '../support/log-capture';

/** Writes `request` on a raw socket and collects what the server sends until it closes the connection. */
function rawExchange(port: number, request: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined); // a reset after the answer is read is not a failure here
    socket.on('close', () => resolve(text));
    socket.on('connect', () => socket.write(request));
    setTimeout(() => reject(new Error(`no close within 20 s; got ${text}`)), 20_000).unref();
  });
}

const requestIdOf = (answer: string) => /\r\nx-request-id: *([^\r]+)/i.exec(answer)?.[1];

/** Request lines of requests that came over a real socket, byte for byte as a client may send them. */
describe('request lines over a real socket', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({ database: 'pglite', env: { LOG_LEVEL: 'info' }, logDestination: logs });
  let port: number;

  beforeAll(async () => {
    await ctx.app.listen(0, '127.0.0.1');
    port = (ctx.app.getHttpServer().address() as AddressInfo).port;
  });

  it('escapes C1 control characters of a header value (Node reads bytes 0x80-0xFF as Latin-1)', async () => {
    const request = Buffer.concat([
      Buffer.from('GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nUser-Agent: evil'),
      Buffer.from([0x9b, 0x33, 0x31, 0x6d, 0x85]),
      Buffer.from('tail\r\n\r\n'),
    ]);
    const answer = await rawExchange(port, request);
    expect(answer).toMatch(/^HTTP\/1.1 200 /);
    const line = await logs.completedLine(requestIdOf(answer));
    expect((line.req as { headers: Record<string, string> }).headers['user-agent']).toBe(
      'evil\\u009b31m\\u0085tail',
    );
    expect(logs.lines.find((text) => text.includes(requestIdOf(answer)!))).not.toMatch(/[\u0080-\u009f]/);
  });
});
