/** A bench server's one line on stdout: where it listens and what the bench needs to call it. */
export function announce(info: { url: string; fixtures?: Record<string, string> }): void {
  process.stdout.write(`${JSON.stringify(info)}\n`);
}
