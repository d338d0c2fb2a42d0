import { spawn } from 'node:child_process';

export interface ChildLoad {
  url: string;
  method?: 'GET' | 'PUT' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  requests: number;
  concurrency: number;
}

/**
 * The load generator in its own process (a plain `node -e` child running fetch loops): a generator inside
 * the server's process measures mostly itself (see STACK.md). Returns requests per second; any status but
 * 200 fails the run.
 */
const SCRIPT = `
const job = JSON.parse(process.env.VCP_LOAD_JOB);
let next = 0;
const init = { method: job.method, headers: job.headers, body: job.body };
const loop = async () => {
  while (next++ < job.requests) {
    const res = await fetch(job.url, init);
    if (res.status !== 200) throw new Error('unexpected ' + res.status + ' from ' + job.url + ': ' + (await res.text()));
    await res.arrayBuffer();
  }
};
const started = performance.now();
Promise.all(Array.from({ length: job.concurrency }, loop)).then(
  () => process.stdout.write(String(job.requests / ((performance.now() - started) / 1000))),
  (error) => { console.error(String(error)); process.exit(1); },
);
`;

export function measureRpsFromChild(load: ChildLoad): Promise<number> {
  const job = { method: 'GET', headers: {}, ...load };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SCRIPT], {
      env: { ...process.env, VCP_LOAD_JOB: JSON.stringify(job) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(Number(out)) : reject(new Error(`load generator failed: ${err.trim()}`)),
    );
  });
}
