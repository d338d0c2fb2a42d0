import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import Redis, { RedisOptions } from 'ioredis';
import { eventually } from './eventually';

/**
 * A redis-server of the test's own, keeping nothing on disk, listening as `listen` says (`--port n --bind …`, or a
 * Unix socket); resolves once a client connecting with `connect` gets its PONG. The caller kills it.
 */
export async function startPrivateRedis(listen: string[], connect: RedisOptions): Promise<ChildProcess> {
  const child = spawn('redis-server', [...listen, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await eventually(
    async () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      // A connect to a socket file that does not exist yet leaves ioredis's connect timer running after it fails.
      if (connect.path && !existsSync(connect.path)) throw new Error('redis-server has no socket yet');
      // retryStrategy null: one refused attempt fails at once, and leaves no reconnect timer behind.
      const probe = new Redis({ ...connect, lazyConnect: true, retryStrategy: () => null });
      try {
        await probe.connect();
        expect(await probe.ping()).toBe('PONG');
      } finally {
        probe.disconnect();
      }
    },
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  return child;
}
