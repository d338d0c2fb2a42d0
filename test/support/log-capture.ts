import { eventually } from './eventually';

/** A pino destination that keeps every JSON log line in memory. */
export class LogCapture {
  readonly lines: string[] = [];

  write(chunk: string): void {
    this.lines.push(...chunk.split('\n').filter((line) => line.length > 0));
  }

  get text(): string {
    return this.lines.join('\n');
  }

  parsed(): Record<string, unknown>[] {
    return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  /**
   * The one "request completed" line of a request, once it is there: pino-http writes it when the response
   * has finished, which can be just after the test holds the response.
   */
  completedLine(requestId: unknown): Promise<Record<string, unknown>> {
    return this.onlyLine((line) => line.msg === 'request completed' && line.request_id === requestId);
  }

  /** The one line that `matches`, once it is there (fails on none or several). */
  onlyLine(matches: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return eventually(() => {
      const found = this.parsed().filter(matches);
      expect(found).toHaveLength(1);
      return found[0];
    });
  }
}
