import { useTestApp } from '../support/app';
import { LogCapture } from '../support/log-capture';

/**
 * EMBEDDED_NODES from the README's tour, carried over to a PostgreSQL setup, where EMBEDDED_NODE=auto starts no
 * embedded node: the start says so, rather than leave every task waiting for a node with nothing in the log.
 */
describe('embedded-node settings on PostgreSQL (EMBEDDED_NODE=auto)', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    env: { LOG_LEVEL: 'info', EMBEDDED_NODE: 'auto', EMBEDDED_NODES: '2' },
    logDestination: logs,
  });

  it('warns at start that EMBEDDED_NODES is ignored, and why; no embedded node is registered', async () => {
    const line = await logs.onlyLine((l) => l.context === 'EmbeddedNode');
    expect(line).toMatchObject({
      level: 40,
      msg:
        'EMBEDDED_NODES ignored: no embedded node runs, as EMBEDDED_NODE=auto runs none with DATABASE_URL set ' +
        '(EMBEDDED_NODE=on would)',
    });
    expect(await ctx.dataSource.query(`SELECT node_id FROM nodes`)).toEqual([]);
  });
});
