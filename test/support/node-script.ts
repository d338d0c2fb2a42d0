import { spawn } from 'node:child_process';

export interface NodeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Both streams as they arrived, interleaved. */
  output: string;
}

/**
 * Runs `node <args>` in a child process of its own and collects what it printed. With `stdin`, that text is
 * written to its standard input and the input closed; otherwise it has none.
 */
export async function runNode(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string } = {},
): Promise<NodeRun> {
  const child = spawn(process.execPath, args, {
    env: options.env ?? process.env,
    stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const run: NodeRun = { code: null, stdout: '', stderr: '', output: '' };
  for (const name of ['stdout', 'stderr'] as const) {
    child[name]!.on('data', (chunk: Buffer) => {
      run[name] += chunk.toString();
      run.output += chunk.toString();
    });
  }
  if (child.stdin) {
    // A program that exits before reading its input closes the pipe, and the write fails with EPIPE (seen on
    // Node 24): what such a run printed and its exit code are the result, not that error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.stdin);
  }
  run.code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return run;
}

/** Runs `script` with `node -e` in a child process of its own, and what it printed on each stream. */
export async function runNodeScript(script: string): Promise<NodeRun> {
  return runNode(['-e', script]);
}
