import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const WORKER_FILE = join(__dirname, 'prove.worker.js');

export interface ProveJob {
  protocol: string;
  inputs: unknown;
  wasm: Uint8Array;
  zkey: Uint8Array;
  timeoutMs: number;
  signal?: AbortSignal;
}

export type ProveResult =
  | { end: 'proved'; proof: unknown; publicSignals: unknown }
  /** The circuit refused the inputs (a failed constraint, a missing signal): the task's fault. */
  | { end: 'failed'; message: string }
  | { end: 'timeout' | 'cancelled' }
  /** The prover itself could not run (bad protocol, a crashed thread): the node's fault. */
  | { end: 'error'; message: string };

type WorkerAnswer = { proof: unknown; publicSignals: unknown } | { failed: string } | { error: string };

/**
 * snarkjs fullProve in a worker thread of its own, so a proof never blocks the agent's event loop (heartbeats
 * go on) and a timeout or a cancel stops it at once: the thread is terminated, whatever snarkjs is doing.
 */
export function prove(job: ProveJob): Promise<ProveResult> {
  if (job.signal?.aborted) return Promise.resolve({ end: 'cancelled' });
  return new Promise<ProveResult>((resolve) => {
    const worker = new Worker(WORKER_FILE, {
      workerData: { protocol: job.protocol, inputs: job.inputs, wasm: job.wasm, zkey: job.zkey },
      // Read and discarded: a circuit's log() (printed with console.log on this thread) is the task author's
      // text, and the agent's stdout is its operator's (--json: one JSON object a line, for log pipelines).
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    let settled = false;
    const finish = (result: ProveResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      job.signal?.removeEventListener('abort', cancel);
      void worker.terminate();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ end: 'timeout' }), job.timeoutMs);
    const cancel = () => finish({ end: 'cancelled' });
    job.signal?.addEventListener('abort', cancel, { once: true });
    worker.on('message', (answer: WorkerAnswer) => {
      if ('proof' in answer)
        finish({ end: 'proved', proof: answer.proof, publicSignals: answer.publicSignals });
      else if ('failed' in answer) finish({ end: 'failed', message: answer.failed });
      else finish({ end: 'error', message: answer.error });
    });
    worker.on('error', (error: Error) => finish({ end: 'error', message: error.message }));
    worker.on('exit', () => finish({ end: 'error', message: 'the prover thread exited' }));
  });
}
