import { ArgumentsHost, Logger } from '@nestjs/common';
import { AllExceptionsFilter } from './all-exceptions.filter';

/** A Fastify reply that records what the filter sent. */
function replyRecorder() {
  const sent: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
  const reply = {
    sent: false,
    headers: (headers: Record<string, string>) => (Object.assign(sent.headers, headers), reply),
    header: (name: string, value: string) => ((sent.headers[name] = value), reply),
    status: (status: number) => ((sent.status = status), reply),
    send: (body: unknown) => ((sent.body = body), reply),
  };
  return { reply, sent };
}

const hostFor = (requestId: string, reply: unknown) =>
  ({
    switchToHttp: () => ({
      getRequest: () => ({ id: requestId, method: 'GET', url: '/api/v1/tasks' }),
      getResponse: () => reply,
    }),
  }) as unknown as ArgumentsHost;

const refused = () =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('AllExceptionsFilter', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    jest.useFakeTimers();
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('answers every request 503 with Retry-After while the database is down, but writes its cause once a minute', () => {
    const filter = new AllExceptionsFilter();
    for (let i = 0; i < 3; i++) {
      const { reply, sent } = replyRecorder();
      filter.catch(refused(), hostFor(`request-${i}`, reply));
      expect(sent).toMatchObject({
        status: 503,
        headers: { 'Retry-After': '1' },
        body: { error: 'service_unavailable', request_id: `request-${i}` },
      });
    }
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toMatch(/^database unavailable: .*ECONNREFUSED.* \(request request-0\)$/);
    jest.advanceTimersByTime(60_000);
    filter.catch(refused(), hostFor('request-3', replyRecorder().reply));
    expect(warn).toHaveBeenCalledTimes(2);
    expect(warn.mock.calls[1][0]).toMatch(
      /\(request request-3\) \(and 2 more like it since the last line\)$/,
    );
  });

  it('writes each deadlock that ran out of retries, with its request id: a bug, not an outage', () => {
    const filter = new AllExceptionsFilter();
    const deadlock = () => Object.assign(new Error('deadlock detected'), { code: '40P01' });
    for (const id of ['a', 'b']) {
      const { reply, sent } = replyRecorder();
      filter.catch(deadlock(), hostFor(id, reply));
      expect(sent.status).toBe(503);
    }
    expect(warn.mock.calls.map(([fields]: unknown[]) => fields)).toEqual([
      { request_id: 'a' },
      { request_id: 'b' },
    ]);
  });
});
