import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_MAIN, startAgent, startNodeScript, storeNode } from '../support/agent-process';

/** What an operator sees when the built agent cannot start: one line saying why, the documented exit code. */
describe('the agent process refusing to start', () => {
  let dataDir: string;
  let server: Server;
  let url: string;
  /** The status every request to the stand-in server gets (a server's 401, or 404 where there is no API). */
  let status = 404;
  /** Where a redirect points: the same stand-in under another name, so a request that followed it is seen. */
  let elsewhere = '';
  let keySentElsewhere = false;
  /** A status for one path in place of `status`. */
  let statusOf: (url: string) => number | undefined = () => undefined;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.headers.host === elsewhere) keySentElsewhere = true;
      const redirect = status >= 300 && status < 400 ? { location: `http://${elsewhere}/api/v1` } : {};
      response.writeHead(statusOf(request.url ?? '') ?? status, {
        'content-type': 'application/json',
        ...redirect,
      });
      response.end(JSON.stringify({ error: 'x', message: 'x' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
    elsewhere = `localhost:${port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'vcp-agent-start-'));
    statusOf = () => undefined;
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  async function run(args: string[]): Promise<{ code: number | null; output: string }> {
    const agent = startAgent([...args, '--api-key', 'vcp_not_a_key']);
    const { code } = await agent.exited;
    const output = agent.output();
    expect(agent.output()).not.toContain('    at ');
    expect(output).not.toContain('vcp_not_a_key'); // no line, error or exit message repeats the key
    expectOneExitedLine(agent.events(), code);
    return { code, output };
  }

  /** With --json, every exit ends with exactly one `exited` line: its code, the reason without the usage. */
  function expectOneExitedLine(events: Record<string, unknown>[], code: number | null): void {
    expect(events.filter((e) => e.event === 'exited')).toEqual([
      { time: expect.any(String), event: 'exited', code, message: expect.any(String) },
    ]);
    expect(events.at(-1)).toMatchObject({ event: 'exited' });
  }

  const lastWord = (output: string) =>
    output
      .trim()
      .split('\n')
      .filter((line) => !line.startsWith('{'))
      .at(-1);

  it('a --server that is not a URL: the flag named, exit 64', async () => {
    const { code, output } = await run(['--server', 'not-a-url', '--data-dir', dataDir]);
    expect(code).toBe(64);
    expect(output).toContain('--server must be a URL such as http://host:3000');
    expect(output).toContain('"message":"--server must be a URL such as http://host:3000"}');
  });

  it('bad usage, with --json: the message and the usage on stderr, and one exited line with code 64', async () => {
    const { code, output } = await run(['--server', url, '--data-dir', dataDir, '--bogus']);
    expect(code).toBe(64);
    expect(output).toContain("Unknown option '--bogus'");
    expect(output).toContain('usage: npm run agent');
    const noKey = startAgent(['--server', url, '--data-dir', dataDir]);
    expect(await noKey.exited).toEqual({ code: 64, signal: null });
    expectOneExitedLine(noKey.events(), 64);
    expect(noKey.events().at(-1)?.message).toBe(
      `--api-key (VCP_API_KEY) is required: no node is stored in ${dataDir} yet`,
    );
    // Without --json (or with --json only as another flag's value), no JSON line at all.
    for (const args of [['--bogus'], ['--server', url, '--node-id', '--json']]) {
      const plain = startNodeScript(AGENT_MAIN, [...args, '--data-dir', dataDir]);
      expect(await plain.exited).toEqual({ code: 64, signal: null });
      expect(plain.events()).toEqual([]);
    }
  });

  it('a bug that escapes (an uncaught exception): exit 1, its stack on stderr, one exited line', async () => {
    // A server that accepts and never answers: the agent is waiting on it when the bug strikes.
    const silent = createNetServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const preload = join(dataDir, 'bug.js');
    writeFileSync(preload, "setTimeout(() => { throw new Error('a bug in the agent'); }, 200);\n");
    try {
      const { port } = silent.address() as AddressInfo;
      const agent = startAgent(
        ['--server', `http://127.0.0.1:${port}`, '--data-dir', join(dataDir, 'd'), '--api-key', 'vcp_x'],
        { NODE_OPTIONS: `--require ${preload}` },
      );
      expect(await agent.exited).toEqual({ code: 1, signal: null });
      expectOneExitedLine(agent.events(), 1);
      expect(agent.events().at(-1)?.message).toMatch(/^Error: a bug in the agent\n +at /);
      expect(agent.output()).toContain('vcp agent: Error: a bug in the agent');
    } finally {
      silent.close();
    }
  });

  it('a server that cannot be reached: one line, exit 69', async () => {
    const { code, output } = await run(['--server', 'http://127.0.0.1:9', '--data-dir', dataDir]);
    expect([code, lastWord(output)]).toEqual([
      69,
      'vcp agent: cannot reach the server at http://127.0.0.1:9 (ECONNREFUSED)',
    ]);
  });

  it('a URL with no VCP API behind it: one line, exit 78', async () => {
    status = 404;
    const { code, output } = await run(['--server', url, '--data-dir', dataDir]);
    expect(code).toBe(78);
    expect(lastWord(output)).toMatch(/^vcp agent: no VCP API at http:\/\/127\.0\.0\.1:\d+ \(404\)/);
  });

  it('a refused key at the first start names the key to give, not a node.json: one line, exit 78', async () => {
    status = 401;
    const { code, output } = await run(['--server', url, '--data-dir', dataDir]);
    expect([code, lastWord(output)]).toEqual([
      78,
      'vcp agent: the server refused the API key (401): it is revoked, expired or mistyped: give a user API ' +
        'key with nodes:write to register this node',
    ]);
  });

  it('a node key with a mistyped --node-id: the id named, exit 78, and nothing stored to refuse the right one', async () => {
    // A node key: 403 on the key check; its heartbeat for a node the server does not know: 404.
    statusOf = (path) => (path.endsWith('/validate') ? 403 : path.endsWith('/heartbeat') ? 404 : undefined);
    const { code, output } = await run(['--server', url, '--data-dir', dataDir, '--node-id', 'typo']);
    expect(code).toBe(78);
    expect(lastWord(output)).toMatch(
      /^vcp agent: .*404.*; the server knows no node typo: give the --node-id the node key was issued for$/,
    );
    expect(readdirSync(dataDir)).not.toContain('node.json');
  });

  it('a stored node and a --server with /api/v1: no VCP API there, as at a first start, not an unknown node', async () => {
    status = 404; // every route, as a VCP server answers under /api/v1/api/v1
    storeNode(dataDir);
    const { code, output } = await run(['--server', `${url}/api/v1`, '--data-dir', dataDir]);
    expect([code, lastWord(output)]).toEqual([
      78,
      `vcp agent: no VCP API at ${url}/api/v1 (404): give the server's base URL, such as http://host:3000, ` +
        'without /api/v1',
    ]);
  });

  it('a redirect (a proxy sending http to https, say) is named and not followed: one line, exit 78', async () => {
    status = 301;
    keySentElsewhere = false;
    const { code, output } = await run(['--server', url, '--data-dir', dataDir]);
    expect([code, lastWord(output)]).toEqual([
      78,
      `vcp agent: the server at ${url} answered 301 redirect to http://${elsewhere}/api/v1, not followed: give ` +
        'the URL the server answers on as --server',
    ]);
    expect(keySentElsewhere).toBe(false);
  });

  it('a proxy whose server is down (502) at the first start is no refused key: one line, exit 69', async () => {
    status = 502;
    const { code, output } = await run(['--server', url, '--data-dir', dataDir]);
    expect([code, lastWord(output)]).toEqual([
      69,
      `vcp agent: the server at ${url} answered 502 to GET /api/v1/auth/api-key/validate: try again later`,
    ]);
  });

  // Node's recursive mkdir spun forever there (ENOENT under an existing parent): bounded, so a hang fails.
  it.each(['/proc/self/vcp-agent', '/proc/1/vcp/agent'])(
    'a data dir on a file system that makes no directories (%s): one line naming it, exit 78, no hang',
    async (procDir) => {
      const agent = startAgent(['--server', url, '--data-dir', procDir, '--api-key', 'vcp_not_a_key']);
      let timer: NodeJS.Timeout | undefined;
      const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 15_000)));
      const ended = await Promise.race([agent.exited, hung]);
      clearTimeout(timer);
      if (ended === 'hung') agent.child.kill('SIGKILL');
      expect([ended, lastWord(agent.output())]).toEqual([
        { code: 78, signal: null },
        `vcp agent: cannot use the data dir ${procDir} (ENOENT): give a writable --data-dir`,
      ]);
    },
    30_000,
  );

  it('a data dir that cannot be one (a file in the way): one line naming it, exit 78', async () => {
    const file = join(dataDir, 'file');
    writeFileSync(file, 'x');
    const { code, output } = await run(['--server', url, '--data-dir', join(file, 'sub')]);
    expect([code, lastWord(output)]).toEqual([
      78,
      `vcp agent: cannot use the data dir ${join(file, 'sub')} (ENOTDIR): give a writable --data-dir`,
    ]);
  });
});
