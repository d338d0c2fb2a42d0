import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configProblems } from '../../../test/support/config-problems';
import { loadConfig } from '../../config/load-config';

describe('httpConfig: HOST', () => {
  let dataDir: string;
  beforeAll(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-http-config-'))));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const load = (host: string) => loadConfig({ DATA_DIR: dataDir, HOST: host }, dataDir);

  it.each([
    '0.0.0.0',
    '::',
    '127.0.0.1',
    '::1',
    'fe80::1%eth0',
    'localhost',
    'api.internal.example.com',
    'api.example.com.',
    'vcp_api-1',
  ])('binds to %s', (host) => {
    expect(load(host).http.host).toBe(host);
  });

  it.each([
    'bad host',
    'http://0.0.0.0',
    '0.0.0.0:3000',
    '[::]',
    '-api',
    'a..b',
    'x'.repeat(64),
    'ünï.example',
  ])('refuses %s at the config check, naming the rule but not the value', (host) => {
    const problems = configProblems(() => load(host));
    expect(problems).toEqual([expect.stringMatching(/^HOST: must be an IP address .* or a host name/)]);
    expect(problems.join()).not.toContain(host);
  });
});
