import { AuditLogRepository } from './audit-log.repository';
import { AuditService } from './audit.service';

describe('AuditService.row', () => {
  const audit = new AuditService({} as AuditLogRepository);
  const rowFor = (userAgent: string) =>
    audit.row(
      { action: 'task.submitted', status: 'success' },
      { ip: '127.0.0.1', userAgent, requestId: 'req-1', apiKeyId: null },
    );

  it('keeps no key or token a client put in its User-Agent, as the request log does not', () => {
    const key = `vcp_${'A'.repeat(40)}${'b'.repeat(6)}`;
    expect(rowFor(`deploy-bot/1.0 (key ${key})`).userAgent).toBe('[redacted]');
    expect(rowFor('sync/2 rt_' + 'x'.repeat(43)).userAgent).toBe('[redacted]');
    // Negative control: an ordinary User-Agent is kept as it came.
    expect(rowFor('Mozilla/5.0 (X11; Linux x86_64) eyJ-not-a-token').userAgent).toBe(
      'Mozilla/5.0 (X11; Linux x86_64) eyJ-not-a-token',
    );
  });
});
