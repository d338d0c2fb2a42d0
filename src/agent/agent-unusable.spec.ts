import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeEngine, FakeServer, leasedRun, testAgent, until } from '../../test/support/agent-fakes';
import { ContentCache } from './content-cache';
import type { AgentEvent } from './reporter';
import { TransportError } from './transport';

/** Answers no retry can change (a key pair the node did not register, no public key): the agent stops. */
describe('Agent when the server says this node cannot work', () => {
  const start = async (server: FakeServer) => {
    const events: AgentEvent[] = [];
    const agent = testAgent({
      nodeId: 'n5',
      concurrency: 2,
      transport: server,
      engine: new FakeEngine(),
      reporter: { emit: (event) => events.push(event) },
    });
    await agent.start();
    return { agent, events };
  };

  it('stops claiming at once when a result is refused for a signature not of its registered key (422 signature_invalid)', async () => {
    const server = new FakeServer();
    const badSignature = new TransportError(
      "POST /runs/r1/result: 422 validation_error The signature is not this node's signature of the run receipt",
      false,
      422,
      'signature_invalid',
    );
    server.submitAnswers = [badSignature];
    const { agent, events } = await start(server);
    try {
      server.queue.push(leasedRun(1));
      expect(await agent.unusable).toEqual({ kind: 'signature_invalid', error: badSignature });
      await until(() => events.some((e) => e.event === 'stopped'));
      // Work queued after the refusal is never claimed: its tasks keep their attempts.
      server.queue.push(leasedRun(2), leasedRun(3));
      const claims = server.claimMaxes.length;
      await new Promise((resolve) => setImmediate(resolve));
      expect(server.claimMaxes.length).toBe(claims);
      expect(server.queue).toHaveLength(2);
      expect(agent.counters).toMatchObject({ claimed: 1, submitted: 0, refused: 1 });
    } finally {
      await agent.stop(0);
    }
  });

  it('stops at the first claim refused because the node registered no public key (403 no_public_key)', async () => {
    const server = new FakeServer();
    const keyless = new TransportError('POST /nodes/n5/claim: 403 forbidden', false, 403, 'no_public_key');
    server.claimFailures = [keyless, keyless, keyless];
    const { agent, events } = await start(server);
    try {
      expect(await agent.unusable).toEqual({ kind: 'no_public_key', error: keyless });
      await until(() => events.some((e) => e.event === 'stopped'));
      expect(server.claimFailures).toHaveLength(2); // not claimed again
      expect(events.filter((e) => e.event === 'refused')).toHaveLength(1);
    } finally {
      await agent.stop(0);
    }
  });

  it('a cache it cannot write (its data dir): the run handed back uncharged, nothing reported, and it stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vcp-agent-cache-'));
    try {
      const cache = new ContentCache(join(dir, 'cache'), 1024 * 1024);
      // The cache directory turns into a file (a permission change would not stop root, which tests run as).
      rmSync(join(dir, 'cache'), { recursive: true });
      writeFileSync(join(dir, 'cache'), '');
      const server = new FakeServer();
      // A release takes a round trip: the stop, begun meanwhile, must not hand the same run back again.
      const release = server.release.bind(server);
      server.release = (runId, fence) =>
        release(runId, fence).then(() => new Promise((resolve) => setTimeout(resolve, 20)));
      const events: AgentEvent[] = [];
      const agent = testAgent({
        nodeId: 'n5',
        transport: server,
        engine: new FakeEngine(),
        cache,
        reporter: { emit: (event) => events.push(event) },
      });
      await agent.start();
      try {
        server.queue.push(leasedRun(5));
        const { kind, error } = await agent.unusable;
        expect(kind).toBe('data_dir_unusable');
        expect((error as NodeJS.ErrnoException).path).toContain(join(dir, 'cache'));
        await until(() => events.some((e) => e.event === 'stopped'));
        // Before: reported as `error`, spending an attempt of the task and showing its creator this path.
        expect(server.submitted).toEqual([]);
        expect(server.released).toEqual([{ runId: leasedRun(5).run_id, fence: leasedRun(5).fence }]);
        const handBacks = events.filter((e) => e.event.startsWith('release')).map((e) => e.event);
        expect(handBacks).toEqual(['released']);
      } finally {
        await agent.stop(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('goes on after a 403 for another reason (quarantined: an admin can reinstate it)', async () => {
    const server = new FakeServer();
    server.claimFailures = [
      new TransportError('POST /nodes/n5/claim: 403 forbidden', false, 403, 'node_quarantined'),
    ];
    const { agent } = await start(server);
    try {
      server.queue.push(leasedRun(4));
      await until(() => server.submitted.length === 1);
    } finally {
      await agent.stop(0);
    }
  });
});
