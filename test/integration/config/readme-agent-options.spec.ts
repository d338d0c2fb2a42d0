import { availableParallelism, homedir } from 'node:os';
import { AGENT_FLAG_VARIABLES, AGENT_FLAGS, OptionsError, parseOptions } from '../../../src/agent/options';
import { documentedRanges, readmeSection } from '../../support/readme-config';

// README's "The node agent and the embedded node" is what an operator runs the agent from: its flags and their
// variables, each variable's default and range, are the agent's own.

const SECTION = readmeSection('The node agent and the embedded node');
/** The paragraph before the first example: the flags, their variables, defaults and ranges. */
const OPTIONS_TEXT = SECTION.slice(0, SECTION.indexOf('```'));

/** Flags the section names that are not the agent's, each with why. */
const OTHER_FLAGS: Record<string, string> = {
  '--silent': "npm's own (`npm run --silent agent`)",
};

/** Default texts that are not a value of the variable, as the value they stand for. */
const DESCRIBED_DEFAULTS: Record<string, string> = {
  'cores − 1': String(Math.max(1, availableParallelism() - 1)),
  '`~/.vcp-agent`': `${homedir()}/.vcp-agent`,
};

/** A valid value other than the default, for variables whose default is no number. */
const SAMPLES: Record<string, string> = {
  VCP_SERVER_URL: 'http://elsewhere:2',
  VCP_API_KEY: 'vcp_sample',
  VCP_NODE_ID: 'node-1',
  VCP_AGENT_DIR: '/tmp/vcp-agent-elsewhere',
  VCP_REGION: 'eu-west',
};

const BASE = { VCP_SERVER_URL: 'http://server:1' };
const FLAG_OF = new Map<string, string>(
  Object.entries(AGENT_FLAG_VARIABLES).map(([flag, name]) => [name, `--${flag}`]),
);

/** `VCP_X` (…): the parenthesis after each variable the paragraph names. */
const notes = new Map(
  [...OPTIONS_TEXT.matchAll(/`(VCP_\w+)` \(([^()]*)\)/g)].map((match) => [match[1], match[2]] as const),
);

function documentedDefault(name: string): string | undefined {
  const text = /default (.+)$/.exec(notes.get(name) ?? '')?.[1];
  if (text === undefined) return undefined;
  if (text in DESCRIBED_DEFAULTS) return DESCRIBED_DEFAULTS[text];
  if (/^(\d+|`[^`]+`)$/.test(text)) return text.replace(/`/g, '');
  throw new Error(`${name}: README's default "${text}" is not one the test can read`);
}

const sampleOf = (name: string): string => {
  const byDefault = documentedDefault(name);
  return SAMPLES[name] ?? String(Number(byDefault) + 1);
};

describe("README's agent options", () => {
  it('names every flag and variable the agent reads, and no other', () => {
    const flags = new Set([...SECTION.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((match) => match[0]));
    const agentFlags = Object.keys(AGENT_FLAGS).map((flag) => `--${flag}`);
    expect([...flags].filter((flag) => !agentFlags.includes(flag) && !(flag in OTHER_FLAGS)).sort()).toEqual(
      [],
    );
    expect(agentFlags.filter((flag) => !flags.has(flag))).toEqual([]);

    const variables = new Set([...OPTIONS_TEXT.matchAll(/`(VCP_\w+)`/g)].map((match) => match[1]));
    expect([...variables].sort()).toEqual(Object.values(AGENT_FLAG_VARIABLES).sort());
  });

  it('reads each variable, as its flag would give it', () => {
    // Where the key came from is the one difference: a refused VCP_API_KEY is said, a refused --api-key stops.
    const parsed = (argv: string[], env: NodeJS.ProcessEnv) => ({
      ...parseOptions(argv, env),
      apiKeyFromEnv: undefined,
    });
    for (const [name, flag] of FLAG_OF) {
      const before = parsed([], BASE);
      const byVariable = parsed([], { ...BASE, [name]: sampleOf(name) });
      expect([name, byVariable]).not.toEqual([name, before]);
      expect([name, parsed([flag, sampleOf(name)], BASE)]).toEqual([name, byVariable]);
    }
    expect(parseOptions([], { ...BASE, VCP_API_KEY: 'vcp_k' }).apiKeyFromEnv).toBe(true);
    expect(parseOptions(['--api-key', 'vcp_k'], { ...BASE, VCP_API_KEY: 'vcp_k' }).apiKeyFromEnv).toBe(false);
  });

  it('applies the documented defaults', () => {
    const documented = [...FLAG_OF.keys()].filter((name) => documentedDefault(name) !== undefined);
    expect(documented.sort()).toEqual([
      'VCP_AGENT_CACHE_MB',
      'VCP_AGENT_CONCURRENCY',
      'VCP_AGENT_DIR',
      'VCP_AGENT_GRACE_SECS',
      'VCP_REGION',
    ]);
    for (const name of documented) {
      const defaults = parseOptions([], BASE);
      expect([name, parseOptions([], { ...BASE, [name]: documentedDefault(name) })]).toEqual([
        name,
        defaults,
      ]);
    }
  });

  it('refuses a value just outside each documented range, naming the flag, its variable and the bound', () => {
    let checked = 0;
    for (const [name, note] of notes) {
      for (const range of documentedRanges(note)) {
        if (range.high === null) throw new Error(`${name}: the agent's ranges have an upper bound`);
        const valueOf = (n: number) => (range.unit === 'number' ? String(n) : 'x'.repeat(n));
        const refusal = (n: number) => {
          try {
            parseOptions([], { ...BASE, [name]: valueOf(n) });
            return null;
          } catch (error) {
            if (!(error instanceof OptionsError)) throw error;
            return error.message;
          }
        };
        for (const [n, bound] of [
          [range.low - 1, range.low],
          [range.high + 1, range.high],
        ]) {
          // An empty variable is unset: a text one short of 1 character cannot be given as a variable.
          if (range.unit !== 'number' && n === 0) continue;
          expect([name, n, refusal(n)]).toEqual([
            name,
            n,
            expect.stringMatching(new RegExp(`^${FLAG_OF.get(name)} \\(${name}\\) .*\\b${bound}\\b`)),
          ]);
        }
        for (const n of [range.low, range.high]) expect([name, n, refusal(n)]).toEqual([name, n, null]);
        checked++;
      }
    }
    expect(checked).toBe(4);
  });
});
