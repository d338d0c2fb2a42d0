import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configProblems } from '../../test/support/config-problems';
import { loadConfig } from '../config/load-config';

describe('rate-limit tiers in the configuration', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-rate-config-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env }, dataDir);
  const problemsOf = (env: Record<string, string>) => configProblems(() => load(env));

  it('accepts a burst up to the per-minute limit, set or default', () => {
    const sut = load({ RATE_LIMIT_TASK_RPM: '50', RATE_LIMIT_TASK_BURST: '50', RATE_LIMIT_AUTH_BURST: '10' });
    expect(sut.rateLimit.tiers.task).toEqual({ rpm: 50, burst: 50 });
    expect(sut.rateLimit.tiers.auth).toEqual({ rpm: 10, burst: 10 });
    expect(load({ RATE_LIMIT_PROOF_RPM: '3' }).rateLimit.tiers.proof).toEqual({ rpm: 3, burst: 3 });
  });

  it('lowers a burst not set to a per-minute limit set below it, as a configuration that started before did', () => {
    expect(load({ RATE_LIMIT_PROOF_RPM: '2' }).rateLimit.tiers.proof).toEqual({ rpm: 2, burst: 2 });
    expect(load({ RATE_LIMIT_AGENT_RPM: '100' }).rateLimit.tiers.agent).toEqual({ rpm: 100, burst: 100 });
    expect(load({}).rateLimit.tiers.agent).toEqual({ rpm: 6000, burst: 200 });
  });

  it('refuses a burst above the per-minute limit, naming the variable set and its bound, never the values', () => {
    expect(problemsOf({ RATE_LIMIT_TASK_RPM: '40', RATE_LIMIT_TASK_BURST: '41' })).toEqual([
      'RATE_LIMIT_TASK_BURST: must be at most RATE_LIMIT_TASK_RPM: a per-second burst above the per-minute limit never applies',
    ]);
    expect(problemsOf({ RATE_LIMIT_AUTH_BURST: '11' })).toEqual([
      'RATE_LIMIT_AUTH_BURST: must be at most RATE_LIMIT_AUTH_RPM (10 by default): a per-second burst above the per-minute limit never applies',
    ]);
  });

  it('lists every tier that breaks the rule, and only the malformed value when one is not a number', () => {
    const problems = problemsOf({
      RATE_LIMIT_GENERAL_RPM: '5',
      RATE_LIMIT_GENERAL_BURST: '1000',
      RATE_LIMIT_NODE_RPM: '7',
      RATE_LIMIT_NODE_BURST: '9',
      RATE_LIMIT_AGENT_RPM: 'lots',
      RATE_LIMIT_AGENT_BURST: '300',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
      'RATE_LIMIT_AGENT_RPM',
      'RATE_LIMIT_GENERAL_BURST',
      'RATE_LIMIT_NODE_BURST',
    ]);
    expect(problems.join('\n')).not.toMatch(/\b1000\b|\b9\b|lots|\b7\b/);
  });
});
