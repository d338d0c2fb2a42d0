/**
 * One node agent (`node dist/src/agent/main.js --json`) as its own process with its own data directory, so a
 * restart after kill -9 is the same node coming back with its stored key. Keeps the parsed event lines.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, WriteStream } from 'node:fs';
import { join } from 'node:path';

const AGENT_MAIN = join(__dirname, '../../src/agent/main.js');

export interface AgentLine {
  /** When this process read the line (ms since epoch). */
  at: number;
  event: string;
  [field: string]: unknown;
}

export class AgentProcess {
  child: ChildProcess | null = null;
  readonly events: AgentLine[] = [];
  readonly unexpectedExits: string[] = [];
  private expectingExit = false;
  private readonly log: WriteStream;

  constructor(
    readonly nodeId: string,
    private readonly args: string[],
    logDir: string,
  ) {
    this.log = createWriteStream(join(logDir, `${nodeId}.log`), { flags: 'a' });
  }

  /** Index in `events` of this incarnation's first line (runs of an earlier, killed one are not its own). */
  firstEventOfRun = 0;
  /** Printed `started` since its last spawn (a kill before that is a kill of a booting agent). */
  started = false;

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the agent and resolves once it printed `started` (registered, keys loaded). */
  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn(process.execPath, [AGENT_MAIN, '--node-id', this.nodeId, ...this.args, '--json'], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.expectingExit = false;
    this.started = false;
    this.firstEventOfRun = this.events.length;
    child.stderr.pipe(this.log, { end: false });
    let buffered = '';
    let resolveStarted: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (resolveStarted = resolve));
    child.stdout.on('data', (chunk: Buffer) => {
      this.log.write(chunk);
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const event = { ...(JSON.parse(line) as { event: string }), at: Date.now() };
        this.events.push(event);
        if (event.event === 'started') {
          this.started = true;
          resolveStarted();
        }
      }
    });
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => {
        if (!this.expectingExit) this.unexpectedExits.push(`${this.nodeId} exited (${signal ?? code})`);
        reject(new Error(`${this.nodeId} exited (${signal ?? code}) before it started`));
      }),
    );
    exited.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.nodeId} did not start in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([started, exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child!.kill(signal);
  }

  /** kill -9 (no goodbye: its leases are left to expire) and waits for the exit. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL');
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.expectingExit = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (signal !== 'SIGKILL') child.kill('SIGCONT');
    child.kill(signal);
    await exited;
  }

  close(): void {
    this.log.end();
  }
}
