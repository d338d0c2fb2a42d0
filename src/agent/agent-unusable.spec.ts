import { FakeEngine, FakeServer, leasedRun, testAgent, until } from '../../test/support/agent-fakes';
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
