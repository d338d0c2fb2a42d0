import type { ConfigContext } from '../common/config/feature-config';
import { embeddedNodeConfig, EmbeddedNodeVariables } from './embedded-node.config';

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
});
