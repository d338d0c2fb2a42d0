import { EmbeddedNodes } from '../../src/embedded-node/embedded-node.service';
import { useTestApp } from '../support/app';
import { LogCapture } from '../support/log-capture';

/**
 * The embedded nodes share the server's WASM engine, and a leased run's deadline counts from its claim: they
 * never lease more runs than the engine runs at once (WASM_MAX_CONCURRENCY), so no run they hold waits for it —
 * except that every node asked for starts with one slot (the unit spec covers how slots are shared out).
 */
describe('embedded nodes sized to the engine (EMBEDDED_NODES=3, WASM_MAX_CONCURRENCY=2)', () => {
  const logs = new LogCapture();
  const ctx = useTestApp({
    database: 'pglite',
    env: { LOG_LEVEL: 'info', EMBEDDED_NODE: 'on', EMBEDDED_NODES: '3', WASM_MAX_CONCURRENCY: '2' },
    logDestination: logs,
  });

  it('starts all three, one slot each (a quorum demo must not lack a node), and says a run may wait', async () => {
    const lines = () =>
      logs
        .parsed()
        .filter((line) => line.context === 'EmbeddedNode')
        .map(({ level, msg }) => ({ level, msg }));
    expect(ctx.app.get(EmbeddedNodes).running).toBe(3);
    expect(lines()).toEqual([
      {
        level: 40,
        msg:
          'EMBEDDED_NODES=3 is more than the WASM engine’s 2 slot(s) (WASM_MAX_CONCURRENCY): each node has one ' +
          'slot, and a run leased to one may wait for the engine; raise WASM_MAX_CONCURRENCY to 3',
      },
      { level: 30, msg: 'embedded node embedded-1 started (1 slot)' },
      { level: 30, msg: 'embedded node embedded-2 started (1 slot)' },
      { level: 30, msg: 'embedded node embedded-3 started (1 slot)' },
    ]);
    const nodes = await ctx.dataSource.query(
      `SELECT node_id FROM nodes WHERE deleted_at IS NULL ORDER BY node_id`,
    );
    expect(nodes).toEqual([{ node_id: 'embedded-1' }, { node_id: 'embedded-2' }, { node_id: 'embedded-3' }]);
  });
});
