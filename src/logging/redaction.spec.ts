import { redactHeaders } from './redaction';

describe('redactHeaders (the request log line)', () => {
  it('censors every credential header and keeps the rest as they were', () => {
    const headers = {
      authorization: 'Bearer eyJ.secret.sig',
      'x-api-key': 'vcp_live_secret',
      cookie: 'session=secret',
      token: 'secret',
      'user-agent': 'curl/8',
      'x-request-id': 'abc',
    };
    expect(redactHeaders(headers)).toEqual({
      authorization: '[redacted]',
      'x-api-key': '[redacted]',
      cookie: '[redacted]',
      token: '[redacted]',
      'user-agent': 'curl/8',
      'x-request-id': 'abc',
    });
    // A copy: the request's own headers are untouched (the route still needs them).
    expect(headers.authorization).toBe('Bearer eyJ.secret.sig');
  });
});
