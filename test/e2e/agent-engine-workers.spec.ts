import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, storeNode } from '../support/agent-process';
import { eventually } from '../support/eventually';

/** The agent starts engine workers for the slots it uses, not for a --concurrency the server limits. */
describe('the agent’s engine workers', () => {
  let server: Server;
  let base: string;
  let dataDir: string;
  let heartbeats = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (!req.url?.endsWith('/heartbeat')) return; // claims: never answered (a long poll)
      heartbeats++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          heartbeat_interval_secs: 1,
          max_concurrent_runs: 2,
          leases: { renewed: [], lost: [], cancel: [] },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dataDir = mkdtempSync(join(tmpdir(), 'vcp-agent-workers-'));
    storeNode(dataDir);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const threadsOf = (pid: number) =>
    Number(/^Threads:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

  it('--concurrency 64 against a server leasing 2 runs a node: 2 slots, not 64 idle workers', async () => {
    if (process.platform !== 'linux') return console.log('skipped: reads /proc/<pid>/status (Linux only)');
    const agent = startAgent(['--server', base, '--data-dir', dataDir, '--concurrency', '64']);
    try {
      await eventually(() => expect(agent.events().map((e) => e.event)).toContain('started'), {
        timeoutMs: 20_000,
      });
      expect(agent.events().find((e) => e.event === 'started')).toMatchObject({ concurrency: 2 });
      const beatsAtStart = heartbeats;
      await eventually(() => expect(heartbeats).toBeGreaterThan(beatsAtStart), { timeoutMs: 10_000 });
      // Node's own threads (~12) and two workers; 64 workers made it ~75.
      expect(threadsOf(agent.child.pid!)).toBeLessThan(30);
    } finally {
      agent.child.kill('SIGTERM');
      await agent.exited;
    }
  }, 60_000);
});
