import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_LEASE_MS } from '../../src/database/data-dir-lock';
import { seedDataDir } from '../support/pglite-template';
import { exited, runServerToExit, ServerProcess, startServer } from '../support/server-process';

/** Each start in a PID namespace of its own, where the server is pid 1: what a container does. */
const CONTAINER = ['unshare', '--pid', '--mount-proc', '--kill-child'];
const containers = spawnSync(CONTAINER[0], [...CONTAINER.slice(1), 'true']).status === 0;
if (!containers) {
  console.warn(
    'embedded-lock-process: the PID-namespace test is skipped: `unshare --pid` is not permitted here',
  );
}
const inContainers = containers ? it : it.skip;

/** The embedded database's lock, seen from the processes of the built server. */
describe('embedded database lock across server processes', () => {
  let dataDir: string;
  let lockFile: string;
  const running: ServerProcess[] = [];

  beforeEach(() => {
    // The lock, not a first start: each server finds a database made (initdb) already.
    dataDir = seedDataDir(mkdtempSync(join(tmpdir(), 'vcp-lock-proc-')));
    lockFile = join(dataDir, 'pgdata.lock');
  });
  afterEach(async () => {
    for (const server of running.splice(0)) if (server.child.exitCode === null) await server.stop('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function serve(launcher: string[] = []): Promise<ServerProcess> {
    const server = await startServer({ DATA_DIR: dataDir }, 90_000, launcher);
    running.push(server);
    return server;
  }

  /** The server's own pid when `unshare` runs it (unshare is the child we spawned). */
  function serverPid(server: ServerProcess): number {
    const pid = server.child.pid!;
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
  }

  it('is taken over after the server holding it was killed', async () => {
    const first = await serve();
    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(readFileSync(lockFile, 'utf8')).toMatch(new RegExp(`^${first.child.pid}\\b`));
    const second = await serve();
    expect(readFileSync(lockFile, 'utf8')).toMatch(new RegExp(`^${second.child.pid}\\b`));
    await second.stop();
    expect(existsSync(lockFile)).toBe(false);
  });

  it('is released when the server exits after a startup that failed past opening the database', async () => {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const port = (busy.address() as { port: number }).port;
      const run = await runServerToExit({ DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: String(port) });
      // listen() comes after the database opened (and took the lock).
      expect(run.output).toContain(`PORT=${port} on 127.0.0.1 is already in use`);
      expect(run.code).toBe(1);
      expect(existsSync(lockFile)).toBe(false);
    } finally {
      busy.close();
    }
  });

  inContainers(
    'as pid 1 in containers: refused while held, taken over once a crashed holder stops renewing it',
    async () => {
      const first = await serve(CONTAINER);
      const held = readFileSync(lockFile, 'utf8');
      expect(held).toMatch(/^1 /);

      const second = await runServerToExit({ DATA_DIR: dataDir }, CONTAINER);
      expect(second.output).toContain('is in use by process 1 (in another PID namespace');
      expect(second.code).toBe(1);

      process.kill(serverPid(first), 'SIGKILL');
      await exited(first.child);
      expect(readFileSync(lockFile, 'utf8')).toBe(held);
      // Instead of waiting out the lease: the crashed holder's last renewal, that long ago.
      const expired = new Date(Date.now() - LOCK_LEASE_MS - 1000);
      utimesSync(lockFile, expired, expired);

      const restarted = await serve(CONTAINER);
      expect(readFileSync(lockFile, 'utf8')).toMatch(/^1 /);
      expect(readFileSync(lockFile, 'utf8')).not.toBe(held);
      process.kill(serverPid(restarted), 'SIGTERM');
      await exited(restarted.child);
      expect(existsSync(lockFile)).toBe(false);
    },
  );
});
