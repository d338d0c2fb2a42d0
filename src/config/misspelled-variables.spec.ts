import 'reflect-metadata';
import { knownVariables, misspelledVariables } from './misspelled-variables';

describe('misspelledVariables', () => {
  it('knows the schemas’ variables and the generated tier names', () => {
    const known = knownVariables();
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'JWT_SECRET',
      'RATE_LIMIT_TASK_RPM',
      'NODE_OFFLINE_AFTER_SECS',
    ])
      expect([name, known.has(name)]).toEqual([name, true]);
  });

  it('names a variable one or two edits from a known one, with the name it probably meant', () => {
    expect(
      misspelledVariables({
        RATE_LIMIT_TSAK_RPM: '100', // swapped letters
        DATABSE_URL: 'postgres://x', // one left out
        LOG_LEVELS: 'debug', // one too many
      }),
    ).toEqual([
      'RATE_LIMIT_TSAK_RPM is not a setting of this service; did you mean RATE_LIMIT_TASK_RPM?',
      'DATABSE_URL is not a setting of this service; did you mean DATABASE_URL?',
      'LOG_LEVELS is not a setting of this service; did you mean LOG_LEVEL?',
    ]);
  });

  it('leaves known names and unrelated variables alone', () => {
    const environment = {
      PORT: '3000',
      RATE_LIMIT_TASK_RPM: '100',
      PATH: '/usr/bin',
      HOME: '/root',
      HOSTNAME: 'box',
      NODE_OPTIONS: '--max-old-space-size=512',
      NODE_ENV: 'production',
      npm_config_cache: '/tmp',
    };
    expect(misspelledVariables(environment)).toEqual([]);
  });
});
