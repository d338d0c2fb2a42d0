import { runNodeScript } from '../../support/node-script';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from '../../support/wasm';

const RUNTIME = join(__dirname, '../../../dist/src/wasm/v8/v8.runtime.js');

/** A process that loads the built v8 runtime, runs a guest on a worker, then emits a warning of its own. */
const SCRIPT = `
const { readFileSync } = require('node:fs');
const { V8Runtime } = require(${JSON.stringify(RUNTIME)});
const runtime = new V8Runtime({ poolSize: 1 });
const bytes = readFileSync(${JSON.stringify(join(FIXTURES, 'echo.wasm'))});
runtime
  .run({ moduleHash: 'echo', bytes: () => new Uint8Array(bytes), stdin: Buffer.from('{"a":1}'), args: [], env: {},
    timeoutMs: 10000, maxOutputBytes: 65536, deterministic: null })
  .then(async (result) => {
    process.emitWarning('another experimental thing', 'ExperimentalWarning');
    console.log(JSON.stringify({ end: result.end, stdout: Buffer.from(result.stdout).toString() }));
    await runtime.close();
  });
`;

/**
 * Issue 13, "also seen": Node's "WASI is an experimental feature" warning wrote a non-JSON line into the
 * server's log. The built runtime (main thread and guest worker) must not print it, and other warnings must
 * still reach stderr.
 */
describe('v8 runtime: no WASI ExperimentalWarning on stderr', () => {
  it('runs a guest in a child process whose stderr carries other warnings but not the WASI one', async () => {
    if (!existsSync(RUNTIME)) throw new Error(`${RUNTIME} is missing: run npm run build`);
    const { code, stdout, stderr } = await runNodeScript(SCRIPT);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ end: 'exited', stdout: '{"a":1}' }); // a guest really ran
    expect(stderr).toContain('another experimental thing'); // the capture works, other warnings pass
    expect(stderr).not.toMatch(/WASI is an experimental feature/);
  });
});
