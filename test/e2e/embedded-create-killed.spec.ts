import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../support/eventually';
import { exited, spawnServer, startServer } from '../support/server-process';

/**
 * A first start killed while initdb writes the new data dir (kill -9, or Ctrl-C during a first `npm start`).
 * initdb used to write `DATA_DIR/pgdata` in place: killed within a few milliseconds of writing PG_VERSION, it
 * left a data dir that every later start failed to open ("Cannot read properties of undefined (reading 'call')"
 * or "Aborted()"; 2 of 6 such kills by hand). Against that code this test fails at its first check on the files.
 */
describe('a first start killed while the embedded database is being created', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-killed-create-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  /** Starts the server on an empty DATA_DIR and SIGKILLs it as soon as initdb has written PG_VERSION. */
  async function killOnceVersionWritten(): Promise<void> {
    rmSync(dataDir, { recursive: true, force: true });
    const child = spawnServer({ DATA_DIR: dataDir });
    // Drained, unread: a full pipe would stall the server before initdb, and the poll below would time out.
    child.stdout.resume();
    child.stderr.resume();
    const done = exited(child);
    const written = [join(dataDir, 'pgdata.creating', 'PG_VERSION'), join(dataDir, 'pgdata', 'PG_VERSION')];
    // A tight poll: PG_VERSION comes ~0.5 s before initdb ends (measured 520-570 ms on this machine).
    await eventually(
      () => {
        if (!written.some((file) => existsSync(file)))
          throw new Error('initdb has not written PG_VERSION yet');
      },
      { timeoutMs: 60_000, intervalMs: 2 },
    );
    child.kill('SIGKILL');
    await done;
  }

  it('leaves no half-made data dir: the next start creates one and serves', async () => {
    const midCreation = () => existsSync(join(dataDir, 'pgdata.creating'));
    // Up to three tries, in case a loaded machine let initdb finish before the kill: the case that broke is a
    // kill before initdb ends, and the new files are then only in the sibling.
    for (let attempt = 0; attempt < 3 && !midCreation(); attempt++) await killOnceVersionWritten();
    expect(midCreation()).toBe(true);
    expect(existsSync(join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(false);

    const server = await startServer({ DATA_DIR: dataDir });
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/api/v1/health/ready`)).status).toBe(200);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
    expect(existsSync(join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(existsSync(join(dataDir, 'pgdata.creating'))).toBe(false);
  }, 180_000);
});
