import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { inWords, LineReporter, streamLines } from './reporter';

describe('LineReporter', () => {
  const linesOf = (json: boolean, event: Parameters<LineReporter['emit']>[0]) => {
    const lines: string[] = [];
    new LineReporter(json, (line) => lines.push(line)).emit(event);
    return lines;
  };

  it('names what was refused: a result by its task, another call by what the agent was doing', () => {
    const [result] = linesOf(false, { event: 'refused', task_id: 't1', run_id: 'r1', message: '422 x' });
    const [beat] = linesOf(false, { event: 'refused', during: 'heartbeat', message: '403 forbidden' });
    expect(result).toMatch(/ result of task t1 refused: 422 x$/);
    expect(beat).toMatch(/ heartbeat refused: 403 forbidden$/);
  });

  it('says when a submitted run was rejected', () => {
    const [line] = linesOf(false, {
      event: 'submitted',
      task_id: 't1',
      run_status: 'rejected',
      task_status: 'pending',
    });
    expect(line).toMatch(/ submitted task t1: run rejected \(the proof did not verify\), task pending$/);
  });

  it('ends with the counters, and says when the server answers again', () => {
    const [stopped] = linesOf(false, { event: 'stopped', claimed: 3, network_errors: 1 });
    expect(stopped).toMatch(/ stopped: claimed=3 network_errors=1$/);
    const [back] = linesOf(false, { event: 'reconnected', after_ms: 1200 });
    expect(back).toMatch(/ the server answers again \(after 1200 ms of network errors\)$/);
  });

  it('counts runs and slots in the singular and the plural', () => {
    const [one] = linesOf(false, { event: 'stopping', running: 1, grace_ms: 0 });
    const [two] = linesOf(false, { event: 'stopping', running: 2, grace_ms: 0 });
    expect(one).toMatch(/ stopping: 1 run in flight, grace 0 ms$/);
    expect(two).toMatch(/ stopping: 2 runs in flight, grace 0 ms$/);
    const [limited] = linesOf(false, {
      event: 'slots_limited',
      slots: 1,
      concurrency: 2,
      max_concurrent_runs: 1,
    });
    expect(limited).toMatch(/ the server leases at most 1 run to one node: using 1 of 2 slots$/);
  });

  it('says the server is still unreachable, with the attempts and how long', () => {
    const [line] = linesOf(false, {
      event: 'still_unreachable',
      attempts: 15,
      for_ms: 61_400,
      during: 'claim',
      message: 'ECONNREFUSED',
    });
    expect(line).toMatch(
      / still unreachable after 15 attempts over 1 min \(claim\): ECONNREFUSED; retrying$/,
    );
  });

  it('says a throttled call waits, and how long', () => {
    const [line] = linesOf(false, { event: 'throttled', during: 'claim', message: '429', retry_ms: 2000 });
    expect(line).toMatch(/ rate limited \(claim\): 429; retrying in 2000 ms$/);
  });

  it('says when the node key stops working, in words, and the way out', () => {
    const [line] = linesOf(false, {
      event: 'key_sunset',
      node_id: 'n1',
      sunset: '2026-07-01T12:00:00.000Z',
      in_secs: 3599,
      replaced_by: null,
      hint: 'issue the node a key',
    });
    expect(line).toMatch(
      / the server stops accepting this node's key at 2026-07-01T12:00:00.000Z \(in 59 min\): issue the node a key$/,
    );
    expect([59, 60, 3600, 3660 * 25, 190800].map(inWords)).toEqual([
      '59 s',
      '1 min',
      '1 h 0 min',
      '1 d 1 h',
      '2 d 5 h',
    ]);
  });

  it('has a sentence for every event the agent emits (none printed as raw JSON to a person)', () => {
    const sources = readdirSync(__dirname).filter(
      (file) => file.endsWith('.ts') && !file.endsWith('.spec.ts'),
    );
    const emitted = new Set(
      sources.flatMap((file) =>
        [...readFileSync(`${__dirname}/${file}`, 'utf8').matchAll(/event: '([a-z_]+)'/g)].map((m) => m[1]),
      ),
    );
    emitted.delete('exited'); // written by main.ts itself, with --json only
    expect(emitted.size).toBeGreaterThan(15);
    const raw = [...emitted].filter((event) => linesOf(false, { event })[0].includes('{"event"'));
    expect(raw).toEqual([]);
  });

  it('says which run was handed back, or could not be', () => {
    expect(linesOf(false, { event: 'released', task_id: 't1', run_id: 'r1' })[0]).toMatch(
      / handed back task t1 \(run r1\): queued again on the server$/,
    );
    expect(linesOf(false, { event: 'release_failed', run_id: 'r1', message: 'timeout' })[0]).toMatch(
      / could not hand back run r1: timeout$/,
    );
  });

  it('tells nothing after `stopped`, the last line of a stop', () => {
    const lines: string[] = [];
    const reporter = new LineReporter(true, (line) => lines.push(line));
    reporter.emit({ event: 'stopping', running: 0, grace_ms: 0 });
    reporter.emit({ event: 'stopped', heartbeats: 0 });
    reporter.emit({ event: 'slots_limited', slots: 1, concurrency: 2, max_concurrent_runs: 1 });
    expect(lines.map((line) => (JSON.parse(line) as { event: string }).event)).toEqual([
      'stopping',
      'stopped',
    ]);
  });

  it('--json: one object a line with its time', () => {
    const [line] = linesOf(true, { event: 'throttled', during: 'claim', retry_ms: 2000 });
    expect(JSON.parse(line)).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      event: 'throttled',
      during: 'claim',
      retry_ms: 2000,
    });
  });
});

describe('streamLines', () => {
  it('a stream whose reader went away (EPIPE) is told once and written no more, never thrown', async () => {
    const written: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written.push(chunk.toString());
        callback(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const lost: string[] = [];
    const write = streamLines(stream, (error) => lost.push((error as NodeJS.ErrnoException).code ?? ''));
    write('first');
    await new Promise((resolve) => setImmediate(resolve));
    write('second');
    await new Promise((resolve) => setImmediate(resolve));
    expect({ written, lost }).toEqual({ written: ['first\n'], lost: ['EPIPE'] });
  });
});
