import { Writable } from 'node:stream';
import { packageVersion } from '../common/config/core.config';
import { logRefusedSettings } from './bootstrap-logger';

describe('logRefusedSettings', () => {
  /** The one JSON line it writes for `env`. */
  function lineFor(env: NodeJS.ProcessEnv): Record<string, unknown> {
    let out = '';
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        out += chunk.toString();
        done();
      },
    });
    logRefusedSettings(
      'Invalid configuration:\n  - APP_VERSION: has characters that are not allowed',
      env,
      destination,
    );
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(1);
    return JSON.parse(lines[0]) as Record<string, unknown>;
  }

  it('writes the fatal startup line with a valid APP_VERSION', () => {
    expect(lineFor({ APP_VERSION: '1.2.3-rc.1' })).toMatchObject({
      level: 60,
      version: '1.2.3-rc.1',
      context: 'Bootstrap',
      msg: 'startup failed: Invalid configuration:\n  - APP_VERSION: has characters that are not allowed',
    });
  });

  it.each(['1 2', 'v1;rm', 'x'.repeat(65), '', ' '])(
    'never echoes an APP_VERSION the variable refuses (%j): the package version instead',
    (refused) => {
      const line = lineFor({ APP_VERSION: refused });
      expect(line.version).toBe(packageVersion());
      if (refused.trim()) expect(JSON.stringify(line)).not.toContain(refused);
    },
  );
});
