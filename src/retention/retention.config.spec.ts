import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configProblems } from '../../test/support/config-problems';
import { loadConfig } from '../config/load-config';

describe('retention config', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-retention-config-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env }, dataDir).retention;

  it('keeps the audit log forever by default, and sweeps every 10 minutes', () => {
    expect(load({})).toEqual({ sweepIntervalMs: 600_000, auditLogRetentionDays: null });
    expect(load({ AUDIT_LOG_RETENTION_DAYS: '0' }).auditLogRetentionDays).toBeNull();
  });

  it('reads the settings', () => {
    expect(load({ AUDIT_LOG_RETENTION_DAYS: '365', RETENTION_SWEEP_INTERVAL_SECS: '60' })).toEqual({
      sweepIntervalMs: 60_000,
      auditLogRetentionDays: 365,
    });
  });

  it.each([
    ['AUDIT_LOG_RETENTION_DAYS', '-1'],
    ['AUDIT_LOG_RETENTION_DAYS', '36501'],
    ['AUDIT_LOG_RETENTION_DAYS', '30 days'],
    ['AUDIT_LOG_RETENTION_DAYS', '1.5'],
    ['RETENTION_SWEEP_INTERVAL_SECS', '0'],
    ['RETENTION_SWEEP_INTERVAL_SECS', '86401'],
    ['RETENTION_SWEEP_INTERVAL_SECS', 'hourly'],
  ])('refuses %s=%s, naming the variable and its bounds', (name, value) => {
    const bounds = name === 'AUDIT_LOG_RETENTION_DAYS' ? 'from 0 to 36500' : 'from 1 to 86400';
    expect(configProblems(() => load({ [name]: value }))).toEqual([
      `${name}: must be a whole number ${bounds}`,
    ]);
  });
});
