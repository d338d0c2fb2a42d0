import { runNodeScript } from '../../support/node-script';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ZK_FIXTURES } from '../../support/zk';

const PROVER = join(__dirname, '../../../dist/src/agent/prover.js');

/** A process that proves with the built prover, a circuit that log()s while its witness is computed. */
const SCRIPT = `
const { readFileSync } = require('node:fs');
const { prove } = require(${JSON.stringify(PROVER)});
prove({
  protocol: 'groth16',
  inputs: { a: '3', b: '11' },
  wasm: readFileSync(${JSON.stringify(join(ZK_FIXTURES, 'logging.wasm'))}),
  zkey: readFileSync(${JSON.stringify(join(ZK_FIXTURES, 'multiplier.groth16.zkey'))}),
  timeoutMs: 60000,
}).then((result) => process.stdout.write(JSON.stringify({ end: result.end }) + '\\n'));
`;

/**
 * `npm run agent -- --json` keeps stdout to JSON lines for log pipelines. A circuit's log() (circom's witness
 * calculator prints it with console.log on the prover's thread) is the task author's text: it must reach
 * neither the agent's stdout nor its stderr.
 */
describe('prover: a circuit writes nothing to the agent process', () => {
  it('proves a circuit that log()s, and the process prints only its own line', async () => {
    if (!existsSync(PROVER)) throw new Error(`${PROVER} is missing: run npm run build`);
    const { code, stdout, stderr } = await runNodeScript(SCRIPT);
    expect(code).toBe(0);
    expect(stdout).toBe('{"end":"proved"}\n'); // the witness was computed: the log() ran
    expect(stderr).toBe('');
  });
});
