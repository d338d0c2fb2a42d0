import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNodeScript } from '../support/node-script';
import { startServer } from '../support/server-process';

const MB = 1024 * 1024;
/** How much more a first start may hold than a later one (initdb's own memory is ~400 MB on Node 20). */
const FIRST_START_ALLOWANCE = 200 * MB;

const residentBytes = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

/**
 * PGlite creates a new data dir by running initdb inside the instance, which then holds initdb's memory until
 * a full collection: on a first `npm start` the server sat at ~870 MB instead of ~420. The data dir is now
 * created in a thread that ends with it.
 */
describe('the embedded database on a first start', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-mem-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  async function residentAfterStart(): Promise<number> {
    const server = await startServer({ DATA_DIR: dataDir });
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/api/v1/health/ready`)).status).toBe(200);
      return residentBytes(server.child.pid!);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  }

  it('holds no more than a later start on the same data dir, give or take 200 MB', async () => {
    const first = await residentAfterStart(); // creates the data dir
    const later = await residentAfterStart();
    expect(first - later).toBeLessThan(FIRST_START_ALLOWANCE);
  }, 120_000);

  it('(control) an instance that ran initdb itself holds far more than one opened on the files', async () => {
    const script = `
      const rss = () => process.memoryUsage().rss;
      import('@electric-sql/pglite').then(async ({ PGlite }) => {
        const created = await PGlite.create({ dataDir: ${JSON.stringify(join(dataDir, 'pgdata'))} });
        const afterInitdb = rss();
        await created.close();
        console.log(JSON.stringify({ afterInitdb }));
      });`;
    const fresh = await runNodeScript(script);
    const reopened = await runNodeScript(script.replaceAll('afterInitdb', 'afterOpen'));
    expect(fresh.code).toBe(0);
    expect(reopened.code).toBe(0);
    const { afterInitdb } = JSON.parse(fresh.stdout) as { afterInitdb: number };
    const { afterOpen } = JSON.parse(reopened.stdout) as { afterOpen: number };
    expect(afterInitdb - afterOpen).toBeGreaterThan(FIRST_START_ALLOWANCE);
  }, 120_000);
});
