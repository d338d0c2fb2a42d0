import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, startAgent, storeNode } from '../support/agent-process';

/**
 * A data dir the agent cannot use is the operator's to fix: one line naming it and exit 78 (EX_CONFIG), not a
 * stack and exit 1. Here its cache cannot be made (a file in the way, as a read-only mount would refuse it);
 * the node is stored already, so no server is needed to get that far.
 */
describe('the agent process with a data dir it cannot use', () => {
  let dataDir: string;
  const agents: AgentProcess[] = [];
  const start = (args: string[]) => {
    const agent = startAgent(args);
    agents.push(agent);
    return agent;
  };
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-agent-dir-'))));
  afterEach(() => {
    // One that did not exit (it found its data dir usable and waits for the server) must not outlive the test.
    for (const agent of agents.splice(0)) agent.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a cache that cannot be made: one line naming it, exit 78', async () => {
    storeNode(dataDir);
    writeFileSync(join(dataDir, 'cache'), 'in the way');
    const agent = start(['--server', 'http://127.0.0.1:9', '--data-dir', dataDir]);
    expect(await agent.exited).toEqual({ code: 78, signal: null });
    expect(agent.output()).toContain(`cannot use ${join(dataDir, 'cache')}`);
    expect(agent.output()).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('its key file gone while node.json is there: exit 78 naming it, no new key pair made', async () => {
    storeNode(dataDir);
    rmSync(join(dataDir, 'node-key.pem'));
    const agent = start(['--server', 'http://127.0.0.1:9', '--data-dir', dataDir]);
    expect(await agent.exited).toEqual({ code: 78, signal: null });
    expect(agent.events().at(-1)).toMatchObject({
      event: 'exited',
      message: expect.stringContaining(`${join(dataDir, 'node-key.pem')} is missing`),
    });
    expect(existsSync(join(dataDir, 'node-key.pem'))).toBe(false);
  }, 30_000);
});
