import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bashBlocks, instrument, mismatches, outputsOf, README } from '../support/readme-tour';
import { eventually } from '../support/eventually';
import { seedDataDir } from '../support/pglite-template';
import { ServerProcess, exited, startServer } from '../support/server-process';

const ROOT = join(__dirname, '../..');
const README_BASE = 'http://localhost:3000';

const missing = ['bash', 'curl', 'jq'].filter((tool) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
});
if (missing.length) {
  const reason = `README's tour needs ${missing.join(', ')}, missing on this machine (apt-get install ${missing.join(' ')})`;
  if (process.env.CI) throw new Error(`CI must run the README tour: ${reason}`);
  console.warn(`readme-tour.spec.ts skipped: ${reason}`);
}

describe('README matcher for `# → …` lines', () => {
  it.each([
    ['{"a":1,…}', '{"b":2,"a":1}', []],
    ['{"a":"x_…","b":…}', '{"a":"x_12","b":[1]}', []],
    ['{"a":1}', '{"a":1,"b":2}', ['$.b: not shown']],
    ['{"a":{"b":2,…},…}', '{"a":{"b":3}}', ['$.a.b: 3 is not 2']],
    ['… holds   two … all 2 checks hold', 'x\n  holds   two\nall 2 checks hold\n', []],
    ['… all 9 checks hold', 'all 8 checks hold', ['"all 8 checks hold" does not read "… all 9 checks hold"']],
  ])('%s against %s', (expected, actual, problems) => {
    expect(mismatches(expected, actual)).toEqual(problems);
  });
});

/**
 * README's "A short tour", run as a newcomer would: the server started as the tour says (on a free port and a data
 * dir of its own), the tour's bash block taken from README at test time and run with `set -euo pipefail` from the
 * repository's root, each `# → …` line held against what its commands printed. Then the agent command README's
 * node-agent section shows, with the api_key the tour's registration returned, until it has run a task.
 */
(missing.length ? describe.skip : describe)('README tour, as written', () => {
  const readme = readFileSync(README, 'utf8');
  let server: ServerProcess | undefined;
  let dir: string;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vcp-readme-tour-'));
    mkdirSync(join(dir, 'home'));
    mkdirSync(join(dir, 'tmp'));
    // "With the server running (`ADMIN_USERNAME=admin ADMIN_PASSWORD='…' EMBEDDED_NODES=2 npm start`, …"
    const start = /`((?:[A-Z_]+=(?:'[^']*'|\S+)\s+)+)npm\s+start`/.exec(
      readme.slice(readme.indexOf('\n## A short tour\n')),
    );
    if (!start) throw new Error("README's tour no longer says how to start the server (`… npm start`)");
    const env = Object.fromEntries(
      [...start[1].matchAll(/([A-Z_]+)=('[^']*'|\S+)/g)].map(([, name, value]) => [
        name,
        value.replace(/^'|'$/g, ''),
      ]),
    );
    expect(env).toMatchObject({ ADMIN_USERNAME: 'admin', EMBEDDED_NODES: '2' }); // steps 4 and 6 need them
    server = await startServer({
      ...env,
      EMBEDDED_NODE: 'auto', // npm start's default (startServer turns it off)
      // A new cluster copied in, as initdb would make it (~8–10 s of CPU): a first start is server-process.spec's.
      DATA_DIR: seedDataDir(join(dir, 'data')),
      WASM_ALLOWED_ROOTS: join(dir, 'data', 'wasm-modules'),
    });
    base = `http://127.0.0.1:${server.port}`;
  }, 90_000);
  afterAll(async () => {
    await server?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs README text in bash from the repository's root, with only PATH, and a HOME and TMPDIR of the test's own
   * (so what it writes stays out of the shared /tmp, and is removed with the test's directory).
   */
  const bash = (script: string) =>
    spawn('bash', ['-c', script], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: join(dir, 'home'), TMPDIR: join(dir, 'tmp') },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, as a terminal's foreground job
    });

  let apiKey = '';

  it('the tour runs and prints what each `# → …` line says', async () => {
    const blocks = bashBlocks('A short tour', readme);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toContain(README_BASE);
    const block = blocks[0].replaceAll(README_BASE, base);
    const { script, expectations } = instrument(block);
    expect(expectations.length).toBeGreaterThanOrEqual(5);
    // A fixed name in a directory every user shares could be another's file, or a link to one: the tour names none.
    expect(block).not.toMatch(/\/tmp\b/);

    const child = bash(`set -euo pipefail\n${script}`);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 60_000);
    const { code } = await exited(child);
    clearTimeout(timer);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    const outputs = outputsOf(stdout, block);
    const report = expectations
      .map((expectation, i) => ({ ...expectation, actual: outputs[i] }))
      .map(({ commands, expected, actual }) => ({
        commands,
        expected,
        actual,
        problems: mismatches(expected, actual),
      }))
      .filter(({ problems }) => problems.length);
    expect(report).toEqual([]);
    // The receipt it verified is the file mktemp made, in the tour's TMPDIR (where npm on Node 22+ also keeps
    // its node-compile-cache directory).
    const files = readdirSync(join(dir, 'tmp'), { withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => readFileSync(join(dir, 'tmp', entry.name), 'utf8'));
    expect(files).toContainEqual(expect.stringMatching(/^\{"receipt":\{.*"task_id":"[0-9a-f-]{36}"/));
    apiKey = (JSON.parse(outputs[0]) as { api_key: string }).api_key;
  }, 90_000);

  it("the node-agent section's command runs a node with Alice's api_key until SIGTERM, then exits 0", async () => {
    expect(apiKey).toMatch(/^vcp_/);
    const blocks = bashBlocks('The node agent and the embedded node', readme);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toContain('vcp_…');
    const child = bash(blocks[0].replaceAll(README_BASE, base).replaceAll('vcp_…', apiKey));
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const agent = { child, output: () => out, exited: exited(child) };
    try {
      await eventually(() => expect(agent.output()).toMatch(/registered node \S+/), { timeoutMs: 30_000 });
      const nodeId = /registered node (\S+)/.exec(agent.output())![1];

      // Three owners must agree: the two embedded nodes and Alice's, so the task completes only with its run.
      const login = await fetch(`${base}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: 'correct horse battery' }),
      });
      const auth = {
        authorization: `Bearer ${((await login.json()) as { access_token: string }).access_token}`,
      };
      const submitted = await fetch(`${base}/api/v1/tasks`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          task_type: 'computation',
          inputs: { program: 'expression', expression: '6*7' },
          requirements: { min_nodes: 3, max_execution_time_sec: 60 },
        }),
      });
      expect(submitted.status).toBe(201);
      const { task_id } = (await submitted.json()) as { task_id: string };
      await eventually(
        async () => {
          const task = (await (await fetch(`${base}/api/v1/tasks/${task_id}`, { headers: auth })).json()) as {
            status: string;
            runs: { node_id: string; outcome: string | null }[];
          };
          expect(task.status).toBe('completed');
          expect(task.runs).toContainEqual(expect.objectContaining({ node_id: nodeId, outcome: 'ok' }));
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );

      // What Ctrl-C (or a supervisor) does: the signal goes to the whole foreground job, npm included.
      process.kill(-agent.child.pid!, 'SIGTERM');
      expect({ exit: await agent.exited, output: agent.output() }).toEqual({
        exit: { code: 0, signal: null },
        output: expect.stringMatching(/stopped: claimed=1 succeeded=1 /),
      });
    } finally {
      if (agent.child.exitCode === null) process.kill(-agent.child.pid!, 'SIGKILL');
    }
  }, 90_000);
});
