/** Sends `requests` GETs to `url` from `concurrency` loops and returns requests per second. */
export async function measureRps(
  url: string,
  {
    requests,
    concurrency,
    headers = {},
  }: { requests: number; concurrency: number; headers?: Record<string, string> },
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next++ < requests) {
      const res = await fetch(url, { headers });
      if (res.status !== 200) throw new Error(`unexpected ${res.status} from ${url}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return requests / ((performance.now() - started) / 1000);
}

/** A log destination that drops everything: formatting still costs, writing does not. */
export const discardLogs = { write: () => undefined };

const LOAD_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, requests, concurrency } = workerData;
let next = 0;
const started = performance.now();
const loop = async () => {
  while (next++ < requests) {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error('unexpected ' + res.status + ' from ' + url);
    await res.arrayBuffer();
  }
};
Promise.all(Array.from({ length: concurrency }, loop)).then(
  () => parentPort.postMessage(requests / ((performance.now() - started) / 1000)),
);
`;

/**
 * Like measureRps, but the client runs in a worker thread: on a multi-core machine the server's event loop then
 * has a core of its own, so the figure is the server's throughput rather than client and server sharing one.
 */
export async function measureRpsFromWorker(
  url: string,
  { requests, concurrency }: { requests: number; concurrency: number },
): Promise<number> {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(LOAD_WORKER, { eval: true, workerData: { url, requests, concurrency } });
  try {
    return await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  } finally {
    await worker.terminate();
  }
}
