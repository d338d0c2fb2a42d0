/** What the agent tells a person (one line per state change) or a machine (`--json`: one JSON object a line). */
export interface AgentEvent {
  event: string;
  [field: string]: unknown;
}

export interface Reporter {
  emit(event: AgentEvent): void;
}

export interface Counters {
  claimed: number;
  succeeded: number;
  failed: number;
  submitted: number;
  lease_lost: number;
  cancelled: number;
  refused: number;
  heartbeats: number;
  network_errors: number;
  throttled: number;
}

export const zeroCounters = (): Counters => ({
  claimed: 0,
  succeeded: 0,
  failed: 0,
  submitted: 0,
  lease_lost: 0,
  cancelled: 0,
  refused: 0,
  heartbeats: 0,
  network_errors: 0,
  throttled: 0,
});

const fieldsOf = (e: AgentEvent) =>
  Object.entries(e)
    .filter(([key]) => key !== 'event')
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');

/** A coming time for people: `42 s`, `59 min`, `5 h 3 min`, `2 d 4 h`. */
export function inWords(secs: number): string {
  if (secs < 60) return `${secs} s`;
  const mins = Math.floor(secs / 60);
  if (mins < 60) return `${mins} min`;
  const hours = Math.floor(mins / 60);
  if (hours < 24) return `${hours} h ${mins % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** `1 run`, `2 runs`. */
const plural = (count: unknown, noun: string) => `${String(count)} ${noun}${count === 1 ? '' : 's'}`;

const HUMAN: Record<string, (e: AgentEvent) => string> = {
  registered: (e) => `registered node ${String(e.node_id)} (key stored in ${String(e.data_dir)})`,
  started: (e) =>
    `node ${String(e.node_id)} started: ${plural(e.concurrency, 'slot')}, ` +
    `public key ${String(e.public_key)}`,
  slots_limited: (e) =>
    Number(e.slots) < Number(e.concurrency)
      ? `the server leases at most ${plural(e.max_concurrent_runs, 'run')} to one node: using ${String(e.slots)} of ${plural(e.concurrency, 'slot')}`
      : `the server leases up to ${plural(e.max_concurrent_runs, 'run')} to one node: using all ${plural(e.slots, 'slot')}`,
  claimed: (e) => `claimed task ${String(e.task_id)} (${String(e.task_type)}, run ${String(e.run_id)})`,
  finished: (e) =>
    `finished task ${String(e.task_id)} in ${String(e.execution_time_ms)} ms: ${String(e.outcome)}`,
  submitted: (e) =>
    e.run_status === 'rejected'
      ? `submitted task ${String(e.task_id)}: run rejected (the proof did not verify), task ${String(e.task_status)}`
      : `submitted task ${String(e.task_id)}: task ${String(e.task_status)}`,
  dropped: (e) => `dropped task ${String(e.task_id)}: ${String(e.reason)}`,
  released: (e) =>
    typeof e.task_id === 'string'
      ? `handed back task ${e.task_id} (run ${String(e.run_id)}): queued again on the server`
      : `handed back run ${String(e.run_id)}: queued again on the server`,
  release_failed: (e) => `could not hand back run ${String(e.run_id)}: ${String(e.message)}`,
  answer_too_large: (e) =>
    `the answer to a claim for ${plural(e.runs, 'run')} (${String(e.during)}) was too large: ${String(e.message)}; ` +
    `claiming one run at a time, retrying in ${String(e.retry_ms)} ms`,
  ignored: (e) => `ignored run ${String(e.run_id)} the server leased: ${String(e.message)}`,
  refused: (e) =>
    typeof e.task_id === 'string'
      ? `result of task ${e.task_id} refused: ${String(e.message)}`
      : `${String(e.during)} refused: ${String(e.message)}`,
  network_error: (e) =>
    `network error (${String(e.during)}): ${String(e.message)}; retrying in ${String(e.retry_ms)} ms`,
  throttled: (e) =>
    `rate limited (${String(e.during)}): ${String(e.message)}; retrying in ${String(e.retry_ms)} ms`,
  still_unreachable: (e) =>
    `still unreachable after ${String(e.attempts)} attempts over ${inWords(Math.round(Number(e.for_ms) / 1000))} ` +
    `(${String(e.during)}): ${String(e.message)}; retrying`,
  reconnected: (e) => `the server answers again (after ${String(e.after_ms)} ms of network errors)`,
  key_sunset: (e) =>
    `the server stops accepting this node's key at ${String(e.sunset)} (in ${inWords(Number(e.in_secs))}): ` +
    String(e.hint),
  counters: (e) => `counters: ${fieldsOf(e)}`,
  stopping: (e) => `stopping: ${plural(e.running, 'run')} in flight, grace ${String(e.grace_ms)} ms`,
  stopped: (e) => `stopped: ${fieldsOf(e)}`,
};

/**
 * Writes lines to `stream` until it fails (EPIPE: their reader went away, `| head` or a log shipper restarting),
 * then drops them: the lines are a log of the work, and losing their reader must not stop the work, nor end
 * the process with its runs leased and left to expire. `lost` is told once, with the stream's error.
 */
export function streamLines(
  stream: NodeJS.WritableStream,
  lost: (error: Error) => void,
): (line: string) => void {
  let broken = false;
  const fail = (error: Error) => {
    if (broken) return;
    broken = true;
    lost(error);
  };
  // Listened to for good: a write to a closed pipe fails later, as an 'error' event that, unheard, would
  // be an uncaught exception (exit 1).
  stream.on('error', fail);
  return (line) => {
    if (!broken) stream.write(`${line}\n`);
  };
}

export class LineReporter implements Reporter {
  private stopped = false;

  constructor(
    private readonly json: boolean,
    private readonly write: (line: string) => void,
  ) {}

  emit(event: AgentEvent): void {
    // A stop ends with `stopped` (README): an answer that arrives while the agent exits is not told after it.
    if (this.stopped) return;
    if (event.event === 'stopped') this.stopped = true;
    const time = new Date().toISOString();
    if (this.json) {
      this.write(JSON.stringify({ time, ...event }));
      return;
    }
    const human = HUMAN[event.event];
    this.write(`${time} ${human ? human(event) : JSON.stringify(event)}`);
  }
}
