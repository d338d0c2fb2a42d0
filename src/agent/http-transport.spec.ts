import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { Fetch, HttpTransport } from './http-transport';
import { AnswerTooLargeError, MAX_DOWNLOAD_BYTES, nodeFetch } from './node-fetch';
import { ANSWER_TOO_LARGE, TransportError } from './transport';

type Reply = Response | Error;

/** A fetch that answers from a script and records the Idempotency-Key (and Claim-Next) each request carried. */
function scripted(replies: Reply[]) {
  const keys: (string | null)[] = [];
  const claimNext: (string | null)[] = [];
  const send: Fetch = (_input, init) => {
    keys.push(new Headers(init?.headers).get('idempotency-key'));
    claimNext.push(new Headers(init?.headers).get('claim-next'));
    const reply = replies.shift();
    if (reply === undefined) throw new Error('no reply scripted');
    return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
  };
  return { send, keys, claimNext };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
const leased = () => json(200, { runs: [{ run_id: 'r', fence: '1' }] });
const nothing = () => new Response(null, { status: 204 });

/** A result body: its content does not matter to the transport. */
const RESULT = {
  fence: '1',
  outcome: 'ok',
  output_hash: '0'.repeat(64),
  execution_time_ms: 1,
  signature: 's',
};

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

  it('a 429 or 503 carries its Retry-After; a refusal does not look at one', async () => {
    const withRetryAfter = (status: number, value: string) =>
      new Response(JSON.stringify({ error: 'x' }), {
        status,
        headers: { 'content-type': 'application/json', 'retry-after': value },
      });
    const { send } = scripted([
      withRetryAfter(429, '3'),
      withRetryAfter(503, new Date(Date.now() + 60_000).toUTCString()),
      withRetryAfter(400, '3'),
      json(429, {}),
    ]);
    const claim = claimWith(send);
    await expect(claim()).rejects.toMatchObject({ retryable: true, status: 429, retryAfterMs: 3_000 });
    const error = (await claim().catch((e: unknown) => e)) as TransportError;
    expect(error.retryAfterMs).toBeGreaterThan(55_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
    await expect(claim()).rejects.toMatchObject({ retryable: false, status: 400, retryAfterMs: null });
    await expect(claim()).rejects.toMatchObject({ retryable: true, status: 429, retryAfterMs: null });
  });

  it('reads the server’s clock from its answers’ Date, and dates its Retry-After on it', async () => {
    const serverClock = Date.now() + 3_600_000; // an hour ahead of this machine
    const dated = (status: number, extra: Record<string, string> = {}) =>
      new Response(status === 204 ? null : JSON.stringify({ error: 'x' }), {
        status,
        headers: { date: new Date(serverClock).toUTCString(), ...extra },
      });
    const { send } = scripted([
      dated(204),
      dated(503, { 'retry-after': new Date(serverClock + 30_000).toUTCString() }),
    ]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    expect(Math.abs(sut.serverNow() - Date.now())).toBeLessThan(1_000); // no answer yet: its own clock
    await sut.claim(1, 0, new AbortController().signal);
    // Date has whole seconds, rounded down: the estimate is at most a second (and the test's time) ahead.
    expect(sut.serverNow() - serverClock).toBeGreaterThanOrEqual(0);
    expect(sut.serverNow() - serverClock).toBeLessThan(2_000);
    const error = (await sut
      .claim(1, 0, new AbortController().signal)
      .catch((e: unknown) => e)) as TransportError;
    // 30 s on the server's clock, not an hour and a half on this machine's.
    expect(error.retryAfterMs).toBeGreaterThan(29_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(30_000);
  });

  it('keeps its clock estimate past a download, whose Date is from when its answer began', async () => {
    const dated = (at: number, body: BodyInit | null, status = 200) =>
      new Response(body, { status, headers: { date: new Date(at).toUTCString() } });
    const { send } = scripted([
      dated(Date.now(), null, 204),
      // A module that took two minutes to arrive: its Date is two minutes old when the last byte is read.
      dated(Date.now() - 120_000, new Uint8Array([0, 97, 115, 109])),
    ]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    await sut.claim(1, 0, new AbortController().signal);
    await sut.module('m');
    // The claim's estimate (this machine's clock, within Date's second), not two minutes behind.
    expect(Math.abs(sut.serverNow() - Date.now())).toBeLessThan(5_000);
  });

  it('sends no key with other requests', async () => {
    const { send, keys } = scripted([json(200, { heartbeat_interval_secs: 15, node_status: 'online' })]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    await sut.heartbeat({ active_tasks: 0, agent_version: 'test', runs: [] });
    expect(keys).toEqual([null]);
  });
});

describe('HttpTransport results carrying a claim (Claim-Next)', () => {
  const accepted = (next?: unknown[]) =>
    json(200, { task_status: 'completed', ...(next ? { next_runs: next } : {}) });

  it('sends the header with a key, the same key again when the answer was lost, a new one after an answer', async () => {
    const { send, keys, claimNext } = scripted([
      new TypeError('fetch failed'),
      accepted([{ run_id: 'r2', fence: '2' }]),
      accepted([]),
      accepted(),
    ]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    await expect(sut.submit('r1', RESULT, 2)).rejects.toMatchObject({ retryable: true });
    expect(await sut.submit('r1', RESULT, 2)).toEqual({
      accepted: true,
      taskStatus: 'completed',
      next: [{ run_id: 'r2', fence: '2' }],
    });
    expect(await sut.submit('r2', RESULT, 1)).toMatchObject({ next: [] });
    // Without Claim-Next: neither header, and no `next` (a server that predates it answers the same).
    expect(await sut.submit('r3', RESULT)).toEqual({
      accepted: true,
      taskStatus: 'completed',
      next: undefined,
    });
    expect(claimNext).toEqual(['2', '2', '1', null]);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys[3]).toBeNull();
  });

  it('a refusal is an answer (nothing was claimed): the next result carries a new key', async () => {
    const { send, keys } = scripted([json(409, { error: 'conflict', reason: 'lease_lost' }), accepted([])]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    expect(await sut.submit('r1', RESULT, 1)).toEqual({ accepted: false, reason: 'lease_lost' });
    await sut.submit('r2', RESULT, 1);
    expect(keys[1]).not.toBe(keys[0]);
  });

  it('an answer too large to read fails with answer_too_large; the next claim it carries is a new one', async () => {
    const tooLarge = new TypeError('fetch failed', { cause: new AnswerTooLargeError(4096) });
    const { send, keys } = scripted([tooLarge, accepted([])]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    await expect(sut.submit('r1', RESULT, 2)).rejects.toMatchObject({
      retryable: true,
      code: ANSWER_TOO_LARGE,
    });
    await sut.submit('r1', RESULT, 1);
    expect(keys[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).not.toBe(keys[0]);
  });
});

describe('HttpTransport releases', () => {
  it('hands a run back with its fence and the node key; a 409 is an error the agent ignores', async () => {
    const sent: { url: string; method?: string; body?: unknown; key: string | null }[] = [];
    const replies = [new Response(null, { status: 204 }), json(409, { reason: 'lease_lost' })];
    const send: Fetch = (input, init) => {
      sent.push({
        url: input as string,
        method: init?.method,
        body: JSON.parse(init?.body as string),
        key: new Headers(init?.headers).get('x-api-key'),
      });
      return Promise.resolve(replies.shift()!);
    };
    const sut = new HttpTransport('http://server/', 'node-1', 'vcp_key', send);
    await sut.release('r1', '7', new AbortController().signal);
    await expect(sut.release('r1', '7', new AbortController().signal)).rejects.toMatchObject({
      status: 409,
      code: 'lease_lost',
    });
    expect(sent[0]).toEqual({
      url: 'http://server/api/v1/runs/r1/release',
      method: 'POST',
      body: { fence: '7' },
      key: 'vcp_key',
    });
  });
});

describe('HttpTransport answer bounds', () => {
  it('lets a download be as large as a stored module or proving key; other answers get the default bound', async () => {
    const bounds: (number | undefined)[] = [];
    const send: Fetch = (_input, init) => {
      bounds.push(init?.maxBodyBytes);
      return Promise.resolve(json(200, { heartbeat_interval_secs: 15, node_status: 'online' }));
    };
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    await sut.module('a'.repeat(64));
    await sut.circuitArtifact('c1', 'zkey');
    await sut.heartbeat({ active_tasks: 0, agent_version: 'test', runs: [] });
    expect(bounds).toEqual([MAX_DOWNLOAD_BYTES, MAX_DOWNLOAD_BYTES, undefined]);
  });
});

describe('HttpTransport claim answers larger than it reads', () => {
  it('fails the claim with answer_too_large, and the next claim is a new one (its key would replay the answer)', async () => {
    const claims: { key: string | undefined; max: number }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const { max } = JSON.parse(body) as { max: number };
        claims.push({ key: req.headers['idempotency-key'] as string | undefined, max });
        const runs = Array.from({ length: max }, (_, i) => ({
          run_id: `r${i}`,
          fence: '1',
          spec: 'x'.repeat(3000),
        }));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ runs }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      // A cap of 4 KiB stands in for the 256 MiB one: one run fits, four do not.
      const sut = new HttpTransport(`http://127.0.0.1:${port}`, 'node-1', 'vcp_key', nodeFetch, 4096);
      const claim = (max: number) => sut.claim(max, 0, new AbortController().signal);
      await expect(claim(4)).rejects.toMatchObject({
        name: 'TransportError',
        retryable: true,
        code: ANSWER_TOO_LARGE,
        message: expect.stringMatching(/^POST \/nodes\/node-1\/claim: the answer is larger than /),
      });
      expect(await claim(1)).toHaveLength(1);
      expect(claims.map((c) => c.max)).toEqual([4, 1]);
      expect(claims[1].key).toMatch(/^[0-9a-f-]{36}$/);
      expect(claims[1].key).not.toBe(claims[0].key);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('HttpTransport answers that are not what the protocol says', () => {
  const html = () =>
    new Response('<html>502 Bad Gateway</html>', { status: 200, headers: { 'content-type': 'text/html' } });

  it('a 2xx that is not a JSON object is retryable like a lost answer, and names the call', async () => {
    const { send, keys } = scripted([html(), json(200, { runs: 'none' }), json(200, [1]), nothing()]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    const claim = () => sut.claim(1, 0, new AbortController().signal);
    await expect(claim()).rejects.toMatchObject({
      name: 'TransportError',
      retryable: true,
      message: 'POST /nodes/node-1/claim: 200 with a body that is not a JSON object (text/html)',
    });
    await expect(claim()).rejects.toMatchObject({
      retryable: true,
      message: "POST /nodes/node-1/claim: the answer's runs is not a list",
    });
    await expect(claim()).rejects.toMatchObject({ retryable: true });
    expect(await claim()).toEqual([]);
    // The same claim each time: runs it may have leased are not leased again.
    expect(new Set(keys).size).toBe(1);
  });

  it('a heartbeat, a result or a circuit answered so is a retryable TransportError too', async () => {
    const { send } = scripted([
      html(),
      html(),
      json(200, { task_status: 'completed', next_runs: {} }),
      html(),
    ]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    const failures = [
      sut.heartbeat({ active_tasks: 0, agent_version: 'test', runs: [] }),
      sut.submit('r1', RESULT),
      sut.submit('r1', RESULT, 1),
      sut.circuit('c1'),
    ].map((call) => call.catch((e: unknown) => e));
    for (const failure of await Promise.all(failures)) {
      expect(failure).toBeInstanceOf(TransportError);
      expect(failure).toMatchObject({ retryable: true });
    }
  });
});

describe('HttpTransport redirects', () => {
  it('a redirect is a refusal that says where it points and that it was not followed', async () => {
    const moved = new Response(null, { status: 308, headers: { location: 'https://server/api/v1/x' } });
    const { send } = scripted([moved]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    await expect(sut.heartbeat({ active_tasks: 0, agent_version: 'test', runs: [] })).rejects.toMatchObject({
      retryable: false,
      status: 308,
      message:
        'PUT /nodes/node-1/heartbeat: 308 redirect to https://server/api/v1/x, not followed: give the URL the ' +
        'server answers on as --server',
    });
  });
});

describe('HttpTransport heartbeats', () => {
  it('sends a heartbeat whose timeout is a fraction of a millisecond (a third of a lease)', async () => {
    const { send } = scripted([json(200, { heartbeat_interval_secs: 15, node_status: 'online' })]);
    const sut = new HttpTransport('http://server', 'node-1', 'vcp_key', send);
    const body = { runs: [], active_tasks: 0, agent_version: 'test' };
    expect(await sut.heartbeat(body, undefined, 10_000 / 3)).toMatchObject({ heartbeat_interval_secs: 15 });
  });

  it('gives up on a heartbeat the server never answers after the timeout the agent asks for', async () => {
    const held: import('node:http').ServerResponse[] = [];
    const server = createServer((_req, res) => held.push(res)); // answers nothing, ever
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const sut = new HttpTransport(`http://127.0.0.1:${port}`, 'node-1', 'vcp_key', nodeFetch);
      await expect(
        sut.heartbeat({ runs: [], active_tasks: 0, agent_version: 'test' }, undefined, 200),
      ).rejects.toMatchObject({ retryable: true });
      expect(held).toHaveLength(1);
    } finally {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 10_000); // far under the transport's own 30 s: a heartbeat that waited for those fails here
});
