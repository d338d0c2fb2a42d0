import type { AgentEvent } from './reporter';
import { zeroCounters } from './reporter';
import { ServerAnswers, unusableBy } from './server-answers';
import { TransportError } from './transport';

describe('ServerAnswers', () => {
  const setup = () => {
    let now = 1_000;
    const events: AgentEvent[] = [];
    const counters = zeroCounters();
    const answers = new ServerAnswers(counters, { emit: (event) => events.push(event) }, () => now);
    return { answers, events, counters, advance: (ms: number) => (now += ms) };
  };
  const down = () => new TransportError('PUT /nodes/n1/heartbeat: fetch failed (ECONNREFUSED)', true);

  it('tells a run of network errors once, then at most once a minute, and the server answering again once', () => {
    const { answers, events, counters, advance } = setup();
    // 15 retries in about 50 s: one line; the retries of the next minute: one more.
    for (let i = 0; i < 15; i++) {
      answers.failed(down(), 'heartbeat', 3_300);
      advance(3_300);
    }
    expect(events.map((e) => e.event)).toEqual(['network_error']);
    for (let i = 0; i < 20; i++) {
      answers.failed(down(), 'claim', 3_300);
      advance(3_300);
    }
    expect(events.map((e) => e.event)).toEqual(['network_error', 'still_unreachable']);
    expect(events[1]).toEqual({
      event: 'still_unreachable',
      attempts: 20,
      for_ms: 62_700,
      during: 'claim',
      message: 'PUT /nodes/n1/heartbeat: fetch failed (ECONNREFUSED)',
    });
    expect(counters.network_errors).toBe(35);
    answers.answered();
    answers.answered();
    expect(events.slice(2)).toEqual([{ event: 'reconnected', after_ms: 115_500 }]);
    // A later outage starts a run of its own: its first error is told again.
    answers.failed(down(), 'claim', 100);
    expect(events.at(-1)).toMatchObject({ event: 'network_error', during: 'claim', retry_ms: 100 });
  });

  it('tells a refusal the loops retry (a redirect, a 4xx) at most once a minute per call and status', () => {
    const { answers, events, counters, advance } = setup();
    const refused = (status: number) =>
      new TransportError(`PUT /nodes/n1/heartbeat: ${status} x`, false, status, 'x');
    for (let i = 0; i < 20; i++) {
      answers.failed(refused(307), 'heartbeat', 3_300);
      advance(3_300); // 20 retries in 66 s: the first and one a minute later
    }
    answers.failed(refused(400), 'heartbeat', 3_300); // another status: told at once
    answers.failed(refused(307), 'claim', 3_300); // another call: told at once
    const told = events.map((e) => `${String(e.event)} ${String(e.during)} ${String(e.status)}`);
    expect(told).toEqual([
      'refused heartbeat 307',
      'refused heartbeat 307',
      'refused heartbeat 400',
      'refused claim 307',
    ]);
    expect(counters.refused).toBe(22); // each one counted
  });

  it('knows the answers that make the node unusable by their code, not their message', () => {
    const refused = (status: number, code: string | null) =>
      new TransportError(`POST /x: ${status} some words`, false, status, code);
    expect(unusableBy(refused(401, 'unauthorized'))).toBe('key_refused');
    expect(unusableBy(refused(422, 'signature_invalid'))).toBe('signature_invalid');
    expect(unusableBy(refused(403, 'no_public_key'))).toBe('no_public_key');
    expect(unusableBy(refused(422, 'validation_error'))).toBeNull();
    expect(unusableBy(refused(403, 'forbidden'))).toBeNull();
    expect(unusableBy(refused(403, 'node_quarantined'))).toBeNull();
    expect(unusableBy(new TransportError('POST /x: 503', true, 503, 'service_unavailable'))).toBeNull();
    expect(unusableBy(new Error('signature_invalid'))).toBeNull();
  });
});
