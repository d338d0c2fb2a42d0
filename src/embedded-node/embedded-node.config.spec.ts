import type { ConfigContext } from '../common/config/feature-config';
import { embeddedNodeConfig, embeddedNodeSlots, EmbeddedNodeVariables } from './embedded-node.config';

describe('embeddedNodeConfig', () => {
  const build = (env: EmbeddedNodeVariables, raw: Record<string, string> = {}, isProduction = false) =>
    embeddedNodeConfig.build(env, {
      core: { isProduction },
      raw,
      cwd: '/',
    } as unknown as ConfigContext<never>);
  const postgres = { DATABASE_URL: 'postgres://db/vcp' };

  it('says which embedded-node settings no embedded node will use, and why', () => {
    expect(build({ EMBEDDED_NODES: 2 }, postgres)).toMatchObject({
      enabled: false,
      ignored:
        'EMBEDDED_NODES ignored: no embedded node runs, as EMBEDDED_NODE=auto runs none with DATABASE_URL set ' +
        '(EMBEDDED_NODE=on would)',
    });
    expect(build({ EMBEDDED_NODES: 2, EMBEDDED_NODE_CONCURRENCY: 2 }, {}, true).ignored).toBe(
      'EMBEDDED_NODES and EMBEDDED_NODE_CONCURRENCY ignored: no embedded node runs, as EMBEDDED_NODE=auto runs ' +
        'none in production (EMBEDDED_NODE=on would)',
    );
    expect(build({ EMBEDDED_NODE: 'off', EMBEDDED_NODE_CONCURRENCY: 2 }).ignored).toBe(
      'EMBEDDED_NODE_CONCURRENCY ignored: no embedded node runs, as EMBEDDED_NODE=off',
    );
  });

  it('has nothing to say when the nodes run, or when none of their settings was given', () => {
    expect(build({ EMBEDDED_NODES: 2 })).toMatchObject({ enabled: true, ignored: null });
    expect(build({ EMBEDDED_NODE: 'on', EMBEDDED_NODES: 2 }, postgres)).toMatchObject({
      enabled: true,
      ignored: null,
    });
    expect(build({}, postgres)).toMatchObject({ enabled: false, ignored: null });
  });

  describe('embeddedNodeSlots: the nodes together lease no more runs than the engine runs at once', () => {
    const sizing = (env: EmbeddedNodeVariables, engineSlots: number, cores = 4, maxConcurrentRuns = 4) =>
      embeddedNodeSlots(build(env), { maxConcurrentRuns, engineSlots, cores });

    it('gives each node cores − 1 slots by default while the engine has room for them all', () => {
      expect(sizing({}, 4)).toEqual({ slots: [3], warning: null });
      expect(sizing({}, 4, 1)).toEqual({ slots: [1], warning: null });
      expect(sizing({}, 16, 16, 4)).toEqual({ slots: [4], warning: null });
    });

    it('shares the engine out between nodes by default (2 nodes on 4 cores: 2 + 2, not 3 + 3), silently', () => {
      expect(sizing({ EMBEDDED_NODES: 2 }, 4)).toEqual({ slots: [2, 2], warning: null });
      expect(sizing({ EMBEDDED_NODES: 3 }, 4)).toEqual({ slots: [2, 1, 1], warning: null });
      expect(sizing({ EMBEDDED_NODES: 2 }, 8, 4)).toEqual({ slots: [3, 3], warning: null });
    });

    it('limits an EMBEDDED_NODE_CONCURRENCY the engine cannot run, and says so', () => {
      expect(sizing({ EMBEDDED_NODES: 2, EMBEDDED_NODE_CONCURRENCY: 4 }, 5)).toEqual({
        slots: [3, 2],
        warning:
          'EMBEDDED_NODE_CONCURRENCY limited to 3+2 slot(s): the embedded nodes share the WASM engine’s 5 slot(s) ' +
          '(WASM_MAX_CONCURRENCY), and a leased run must not wait for one',
      });
      expect(sizing({ EMBEDDED_NODE_CONCURRENCY: 8 }, 16, 4, 4)).toEqual({
        slots: [4],
        warning:
          'EMBEDDED_NODE_CONCURRENCY limited to 4 slot(s): the server leases at most 4 run(s) to one node ' +
          '(NODE_MAX_CONCURRENT_RUNS)',
      });
      expect(sizing({ EMBEDDED_NODES: 2, EMBEDDED_NODE_CONCURRENCY: 2 }, 4)).toEqual({
        slots: [2, 2],
        warning: null,
      });
    });

    it('starts every node asked for, one slot each, past the engine’s slots, and says a run may wait', () => {
      expect(sizing({ EMBEDDED_NODES: 3 }, 2)).toEqual({
        slots: [1, 1, 1],
        warning:
          'EMBEDDED_NODES=3 is more than the WASM engine’s 2 slot(s) (WASM_MAX_CONCURRENCY): each node has one ' +
          'slot, and a run leased to one may wait for the engine; raise WASM_MAX_CONCURRENCY to 3',
      });
    });
  });
});
