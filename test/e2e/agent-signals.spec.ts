import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPEAT_MS } from '../../src/agent/stop-signals';
import { startAgent, storeNode } from '../support/agent-process';
import { eventually } from '../support/eventually';

/**
 * Issue 17: SIGTERM/SIGINT (and SIGHUP: its terminal or SSH session closed) end the agent with exit 0, also
 * before it got going: while it registers (the server slow to answer) or while its first heartbeat is being
 * retried (the server down or restarting). A second signal ends it at once, whatever the first still waits
 * for. Its stdout's reader going away does not end it. A fake server plays those parts.
 */
describe('the agent process stopped by a signal', () => {
  let server: Server;
  let base: string;
  let dataDir: string;
  let answer: (req: IncomingMessage, res: ServerResponse) => void;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      answer(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    seen.length = 0;
    dataDir = mkdtempSync(join(tmpdir(), 'vcp-agent-signals-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP'] as const)(
    '%s while registering (the server not answering yet): exit 0 at once',
    async (signal) => {
      answer = () => undefined; // never answers
      const agent = startAgent(['--server', base, '--api-key', 'vcp_user_key', '--data-dir', dataDir]);
      await eventually(() => expect(seen).toContain('GET /api/v1/auth/api-key/validate'), {
        timeoutMs: 20_000,
      });
      agent.child.kill(signal);
      expect(await agent.exited).toEqual({ code: 0, signal: null });
      expect(agent.events().map((e) => e.event)).not.toContain('started');
      expect(agent.events().at(-1)).toMatchObject({ event: 'stopped' });
    },
    30_000,
  );

  it('a second agent on the same data dir exits 78 naming the first (a data dir is one node)', async () => {
    answer = () => undefined; // never answers: the first agent stays registering
    const first = startAgent(['--server', base, '--api-key', 'vcp_user_key', '--data-dir', dataDir]);
    await eventually(() => expect(seen).toContain('GET /api/v1/auth/api-key/validate'), {
      timeoutMs: 20_000,
    });
    const second = startAgent(['--server', base, '--api-key', 'vcp_user_key', '--data-dir', dataDir]);
    expect(await second.exited).toEqual({ code: 78, signal: null });
    expect(second.output()).toContain(
      `vcp agent: the data dir ${dataDir} is in use by agent process ${first.child.pid}: a data dir is one node`,
    );
    first.child.kill('SIGTERM');
    expect(await first.exited).toEqual({ code: 0, signal: null });
    // Released at exit: the next agent on it starts (and is stopped registering, as the first was).
    const third = startAgent(['--server', base, '--api-key', 'vcp_user_key', '--data-dir', dataDir]);
    await eventually(() => expect(seen.filter((s) => s.endsWith('/validate')).length).toBe(2), {
      timeoutMs: 20_000,
    });
    third.child.kill('SIGTERM');
    expect(await third.exited).toEqual({ code: 0, signal: null });
  }, 60_000);

  it('SIGUSR1 while registering is the counters signal, never Node’s inspector (127.0.0.1:9229)', async () => {
    answer = () => undefined; // never answers
    const agent = startAgent(['--server', base, '--api-key', 'vcp_user_key', '--data-dir', dataDir]);
    await eventually(() => expect(seen).toContain('GET /api/v1/auth/api-key/validate'), {
      timeoutMs: 20_000,
    });
    // Before the handler was installed first thing, this opened the inspector ("Debugger listening on ws://…").
    agent.child.kill('SIGUSR1');
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(agent.output()).not.toMatch(/debugger|inspector/i);
  }, 30_000);

  it('SIGTERM while the first heartbeat is retried (503): exit 0, and no "started" line after "stopped"', async () => {
    answer = (_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"service_unavailable"}');
    };
    storeNode(dataDir);
    const agent = startAgent(['--server', base, '--data-dir', dataDir]);
    await eventually(() => expect(agent.events().map((e) => e.event)).toContain('network_error'), {
      timeoutMs: 20_000,
    });
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    const events = agent.events().map((e) => e.event);
    expect(events).not.toContain('started');
    expect(events.at(-1)).toBe('stopped');
  }, 30_000);

  const ANSWERED_BEAT = JSON.stringify({
    heartbeat_interval_secs: 1,
    leases: { renewed: [], lost: [], cancel: [] },
  });
  const MODULE_ID = 'a'.repeat(64);
  const LEASED_RUN = {
    run_id: '00000000-0000-4000-8000-000000000001',
    task_id: '00000000-0000-4000-8000-000000000002',
    task_type: 'wasm_execution',
    fence: '1',
    lease_expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    spec: {
      module_id: MODULE_ID,
      module_url: `/api/v1/modules/${MODULE_ID}/download`,
      inputs: {},
      args: [],
      deterministic: false,
      limits: { timeout_ms: 1000, memory_mb: 64, output_bytes: 1024 },
    },
  };
  /** The agent of a stored node, started against the fake server; resolves once it has beaten twice. */
  const startedAgent = async (args: string[], beats: () => number) => {
    storeNode(dataDir);
    const agent = startAgent(['--server', base, '--data-dir', dataDir, ...args]);
    await eventually(() => expect(agent.events().map((e) => e.event)).toContain('started'), {
      timeoutMs: 20_000,
    });
    await eventually(() => expect(beats()).toBeGreaterThan(1), { timeoutMs: 20_000 });
    return agent;
  };
  const exitWithin10s = (agent: ReturnType<typeof startAgent>) =>
    Promise.race([
      agent.exited,
      new Promise((resolve) => setTimeout(() => resolve('still running 10 s later'), 10_000).unref()),
    ]);

  it('a stop does not wait for a heartbeat a server that stopped answering holds (exit 0 at once)', async () => {
    let heartbeats = 0;
    answer = (req, res) => {
      // The first heartbeat is answered; then the server hangs (heartbeats and claims never answered).
      if (req.url?.endsWith('/heartbeat') && heartbeats++ === 0) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(ANSWERED_BEAT);
      }
    };
    const agent = await startedAgent(['--grace-secs', '0'], () => heartbeats);
    agent.child.kill('SIGTERM');
    // Before, it waited out the heartbeat's 30 s timeout.
    expect(await exitWithin10s(agent)).toEqual({ code: 0, signal: null });
    expect(agent.events().at(-1)).toMatchObject({ event: 'stopped' });
  }, 60_000);

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const)(
    'a second %s stops it at once (exit %i) while the first waits out the grace period of a run',
    async (signal, code) => {
      let heartbeats = 0;
      let claims = 0;
      answer = (req, res) => {
        if (req.url?.endsWith('/heartbeat')) heartbeats++;
        else if (req.url?.endsWith('/claim') && claims++ === 0) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ runs: [LEASED_RUN] }));
          return;
        } else return; // later claims and the module's download: never answered
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(ANSWERED_BEAT);
      };
      const agent = await startedAgent(['--grace-secs', '600'], () => heartbeats);
      await eventually(() => expect(agent.events().map((e) => e.event)).toContain('claimed'), {
        timeoutMs: 10_000,
      });
      agent.child.kill(signal);
      await eventually(
        () =>
          expect(agent.events()).toContainEqual(expect.objectContaining({ event: 'stopping', running: 1 })),
        { timeoutMs: 10_000 },
      );
      // Past the window in which a repeat is the same stop passed on (npm, a process group: stop-signals.ts),
      // counted from when the agent had handled the first (its `stopping` line), not from when it was sent: a
      // busy machine may deliver it hundreds of milliseconds later, and the second would then read as a repeat.
      const handledBy = Date.now();
      await eventually(() => expect(Date.now() - handledBy).toBeGreaterThan(REPEAT_MS), { timeoutMs: 5_000 });
      // The first stop gives the run 600 s to finish; the second does not wait.
      agent.child.kill(signal);
      expect(await exitWithin10s(agent)).toEqual({ code, signal: null });
      expect(agent.output()).toContain(`second ${signal}: stopped at once`);
    },
    60_000,
  );

  it('its stdout reader gone (EPIPE) as it claims: it goes on working, and a stop hands the run back (exit 0)', async () => {
    let heartbeats = 0;
    let claim: ServerResponse | undefined;
    let download: ServerResponse | undefined;
    answer = (req, res) => {
      if (req.url?.endsWith('/heartbeat')) heartbeats++;
      else if (req.url?.endsWith('/claim'))
        return void (claim ??= res); // the first, answered below
      // The module's download waits for the release (a stop waits for it: the download heeds no abort).
      else if (req.url?.endsWith('/download')) return void (download = res);
      else if (!req.url?.endsWith('/release')) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url.endsWith('/heartbeat') ? ANSWERED_BEAT : '{}');
      if (req.url.endsWith('/release')) download?.writeHead(404).end();
    };
    const agent = await startedAgent(['--grace-secs', '0'], () => heartbeats);
    await eventually(() => expect(claim).toBeDefined(), { timeoutMs: 10_000 });
    agent.child.stdout?.destroy(); // `| head` done reading, a log shipper restarting
    claim!.writeHead(200, { 'content-type': 'application/json' });
    claim!.end(JSON.stringify({ runs: [LEASED_RUN] })); // its `claimed` line meets the closed pipe
    // Before, the agent exited 1 there, its run's lease left to expire. It still renews the lease it holds:
    const beats = heartbeats;
    await eventually(() => expect(heartbeats).toBeGreaterThan(beats + 1), { timeoutMs: 10_000 });
    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(seen).toContain(`POST /api/v1/runs/${LEASED_RUN.run_id}/release`);
    expect(agent.output()).toContain('vcp agent: standard output failed (EPIPE)');
  }, 60_000);
});
