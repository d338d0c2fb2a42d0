import { KEY_SUNSET_REMINDER_MS, KeySunsetNotice, noticingKeySunset } from './key-sunset';
import type { AgentEvent } from './reporter';

const SUCCESSOR = '0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f';
const SUNSET = 'Wed, 01 Jul 2026 12:00:00 GMT';
const MINUTE = 60_000;

describe('KeySunsetNotice', () => {
  let now: number;
  let events: AgentEvent[];
  let sut: KeySunsetNotice;

  beforeEach(() => {
    now = Date.parse('2026-07-01T11:00:00Z');
    events = [];
    sut = new KeySunsetNotice('node-7', { emit: (event) => events.push(event) }, () => now);
  });

  const answer = (headers: Record<string, string>) => sut.seen(new Headers(headers));

  it('says when the key ends and the way out, once, when the header is first seen', () => {
    answer({ 'content-type': 'application/json' });
    expect(events).toEqual([]);
    answer({ sunset: SUNSET });
    expect(events).toEqual([
      {
        event: 'key_sunset',
        node_id: 'node-7',
        sunset: '2026-07-01T12:00:00.000Z',
        in_secs: 3600,
        replaced_by: null,
        hint:
          'issue the node a key (POST /api/v1/nodes/node-7/keys) and restart the agent with it as --api-key ' +
          'or VCP_API_KEY (it replaces the stored one)',
      },
    ]);
    answer({ sunset: SUNSET });
    expect(events).toHaveLength(1);
  });

  it('says it again at most hourly while the date stays the same', () => {
    answer({ sunset: 'Thu, 02 Jul 2026 12:00:00 GMT' });
    now += KEY_SUNSET_REMINDER_MS - 1;
    answer({ sunset: 'Thu, 02 Jul 2026 12:00:00 GMT' });
    expect(events).toHaveLength(1);
    now += 1;
    answer({ sunset: 'Thu, 02 Jul 2026 12:00:00 GMT' });
    expect(events.map((e) => e.in_secs)).toEqual([25 * 3600, 24 * 3600]);
    // The hour counts from the last line, not from the first one.
    now += 30 * MINUTE;
    answer({ sunset: 'Thu, 02 Jul 2026 12:00:00 GMT' });
    expect(events).toHaveLength(2);
  });

  it('says it at once when the date or the successor changes', () => {
    answer({ sunset: 'Thu, 02 Jul 2026 12:00:00 GMT' });
    now += MINUTE;
    answer({ sunset: SUNSET, 'x-api-key-replaced-by': SUCCESSOR });
    expect(events).toHaveLength(2);
    expect(events[1]).toMatchObject({
      sunset: '2026-07-01T12:00:00.000Z',
      replaced_by: SUCCESSOR,
      hint: expect.stringContaining(`the key that replaces it (key_id ${SUCCESSOR}`),
    });
    // An answer without the header (a proxy's 502, say) forgets nothing: the same date is no news.
    answer({});
    answer({ sunset: SUNSET, 'x-api-key-replaced-by': SUCCESSOR });
    expect(events).toHaveLength(2);
  });

  it('counts down from the server’s Date when it sends one (the agent’s clock may be off)', () => {
    answer({ sunset: SUNSET, date: 'Wed, 01 Jul 2026 11:50:00 GMT' });
    expect(events[0]).toMatchObject({ in_secs: 600 });
  });

  it('ignores a date it cannot read and echoes nothing but a key id', () => {
    answer({ sunset: 'soon' });
    expect(events).toEqual([]);
    answer({ sunset: SUNSET, 'x-api-key-replaced-by': 'rm -rf /; see http://evil.example' });
    expect(events).toMatchObject([{ replaced_by: null }]);
  });

  it('noticingKeySunset shows every answer to the notice, refusals too, and passes it on unchanged', async () => {
    const refused = new Response('{"error":"forbidden"}', { status: 403, headers: { sunset: SUNSET } });
    const send = noticingKeySunset(() => Promise.resolve(refused), sut);
    expect(await send('http://server/api/v1/x')).toBe(refused);
    expect(events).toMatchObject([{ event: 'key_sunset', sunset: '2026-07-01T12:00:00.000Z' }]);
  });
});
