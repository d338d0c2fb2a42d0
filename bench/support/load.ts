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
