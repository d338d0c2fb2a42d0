import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent } from '../support/agent-process';

/**
 * A data dir the agent cannot use is the operator's to fix: one line naming it and exit 78 (EX_CONFIG), not a
 * stack and exit 1. Here its cache cannot be made (a file in the way, as a read-only mount would refuse it);
 * the node is stored already, so no server is needed to get that far.
 */
describe('the agent process with a data dir it cannot use', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-agent-dir-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('a cache that cannot be made: one line naming it, exit 78', async () => {
    writeFileSync(
      join(dataDir, 'node.json'),
      JSON.stringify({ node_id: 'n1', node_api_key: 'vcp_node_key' }),
    );
    writeFileSync(join(dataDir, 'cache'), 'in the way');
    const agent = startAgent(['--server', 'http://127.0.0.1:9', '--data-dir', dataDir]);
    expect(await agent.exited).toEqual({ code: 78, signal: null });
    expect(agent.output()).toContain(`cannot use ${join(dataDir, 'cache')}`);
    expect(agent.output()).not.toMatch(/\n\s+at /);
  }, 30_000);
});
