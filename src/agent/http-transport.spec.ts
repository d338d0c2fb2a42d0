import { Fetch, HttpTransport } from './http-transport';
import { TransportError } from './transport';

type Reply = Response | Error;

/** A fetch that answers from a script and records the Idempotency-Key each claim carried. */
function scripted(replies: Reply[]) {
  const keys: (string | null)[] = [];
  const send: Fetch = (_input, init) => {
    keys.push(new Headers(init?.headers).get('idempotency-key'));
    const reply = replies.shift();
    if (reply === undefined) throw new Error('no reply scripted');
    return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
  };
  return { send, keys };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const leased = () => json(200, { runs: [{ run_id: 'r', fence: '1' }] });
const nothing = () => new Response(null, { status: 204 });

describe('HttpTransport claims', () => {
  const claimWith = (send: Fetch) => {
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    return () => sut.claim(1, 0, new AbortController().signal);
  };

  it('sends one Idempotency-Key per claim, and the same one again when the answer was lost', async () => {
    const { send, keys } = scripted([new TypeError('fetch failed'), json(503, {}), leased(), nothing()]);
    const claim = claimWith(send);
    await expect(claim()).rejects.toMatchObject({ retryable: true });
    await expect(claim()).rejects.toMatchObject({ retryable: true, status: 503 });
    expect(await claim()).toEqual([{ run_id: 'r', fence: '1' }]);
    expect(await claim()).toEqual([]);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys.slice(0, 3)).toEqual([keys[0], keys[0], keys[0]]);
    expect(keys[3]).not.toBe(keys[0]);
  });

  it('a body that never arrived keeps the key; a refusal (an answer) does not', async () => {
    const truncated = new Response('{"runs": [', {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
    const { send, keys } = scripted([truncated, json(403, { error: 'forbidden' }), nothing()]);
    const claim = claimWith(send);
    await expect(claim()).rejects.toThrow(/JSON/);
    await expect(claim()).rejects.toBeInstanceOf(TransportError);
    await claim();
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[1]);
  });

  it('sends no key with other requests', async () => {
    const { send, keys } = scripted([json(200, { heartbeat_interval_secs: 15, node_status: 'online' })]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    await sut.heartbeat({ active_tasks: 0, agent_version: 'test', runs: [] });
    expect(keys).toEqual([null]);
  });
});
