import { FakeEngine, FakeServer, leasedRun, MODULE } from '../../test/support/agent-fakes';
import { ContentCache } from './content-cache';
import { DOWNLOAD_TRIES, executeOrRefuse } from './executors';
import { TransportError } from './transport';

/** A server whose module downloads fail with `failures` (in order) before they answer. */
function serverFailingDownloads(failures: Error[]) {
  const server = new FakeServer();
  let downloads = 0;
  server.module = () => {
    downloads++;
    const failure = failures.shift();
    return failure ? Promise.reject(failure) : Promise.resolve(MODULE);
  };
  return { server, downloads: () => downloads };
}

const run = (server: FakeServer) =>
  executeOrRefuse(
    { transport: server, engine: new FakeEngine(), cache: new ContentCache(null, 1024 * 1024) },
    leasedRun(1),
    new AbortController().signal,
  );

describe('executeOrRefuse when the module download fails', () => {
  it('tries a download that failed on the network or the server again: the run is executed', async () => {
    const { server, downloads } = serverFailingDownloads([
      new TransportError('GET /modules/m/download: 502', true, 502),
      new TransportError('GET /modules/m/download: ECONNRESET', true),
    ]);
    expect(await run(server)).toMatchObject({ outcome: 'ok' });
    expect(downloads()).toBe(3);
  }, 20_000);

  it(`refuses the run (error) after ${DOWNLOAD_TRIES} failed tries, and at once on a refusal that will not pass`, async () => {
    const down = serverFailingDownloads(
      Array.from({ length: DOWNLOAD_TRIES }, () => new TransportError('GET …: 503', true, 503)),
    );
    expect(await run(down.server)).toMatchObject({ outcome: 'error' });
    expect(down.downloads()).toBe(DOWNLOAD_TRIES);
    const forbidden = serverFailingDownloads([new TransportError('GET …: 403', false, 403)]);
    expect(await run(forbidden.server)).toMatchObject({ outcome: 'error' });
    expect(forbidden.downloads()).toBe(1);
  }, 60_000);
});

describe('executeOrRefuse on a run dropped during its download', () => {
  it('ends at once, while the download goes on into the cache for the runs that share it', async () => {
    const server = new FakeServer();
    let finishDownload!: (bytes: Uint8Array) => void;
    let downloads = 0;
    server.module = () => {
      downloads++;
      return new Promise((resolve) => (finishDownload = resolve));
    };
    const engine = new FakeEngine();
    const cache = new ContentCache(null, 1024 * 1024);
    const controller = new AbortController();
    const execution = executeOrRefuse({ transport: server, engine, cache }, leasedRun(1), controller.signal);
    await new Promise(setImmediate);
    expect(downloads).toBe(1);

    controller.abort(new Error('lost'));
    // Without the race against the signal this waits for the download, which never comes here.
    expect(await execution).toMatchObject({ outcome: 'error' });

    finishDownload(MODULE);
    const again = await executeOrRefuse(
      { transport: server, engine, cache },
      leasedRun(1),
      new AbortController().signal,
    );
    expect(again).toMatchObject({ outcome: 'ok' });
    expect(downloads).toBe(1);
  });
});

describe('executeOrRefuse on a run that did not end ok', () => {
  /** An engine whose run exits 3 after printing `stdout` (parsed already, as the engine does with JSON). */
  const failing = (stdout: unknown) => {
    const engine = new FakeEngine();
    const runBytes = engine.runBytes.bind(engine);
    engine.runBytes = async (bytes, request) => ({
      ...(await runBytes(bytes, request)),
      exit_code: 3,
      stdout,
      outcome: 'exit_nonzero',
    });
    return executeOrRefuse(
      { transport: new FakeServer(), engine, cache: new ContentCache(null, 1024 * 1024) },
      leasedRun(1),
      new AbortController().signal,
    );
  };

  it('sends the stdout tail for its owner to read, JSON the module printed included', async () => {
    expect(await failing({ argc: 2 })).toMatchObject({
      outcome: 'exit_nonzero',
      stdout: '{"argc":2}',
      exitCode: 3,
    });
    expect(await failing('plain text')).toMatchObject({ stdout: 'plain text' });
    expect(await failing(undefined)).not.toHaveProperty('stdout');
  });
});
