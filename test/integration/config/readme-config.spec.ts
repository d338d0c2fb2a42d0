import 'reflect-metadata';
import { KeyObject } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '../../../src/config/app-config';
import { loadConfig } from '../../../src/config/load-config';
import { knownVariables } from '../../../src/config/misspelled-variables';
import { embeddedNodeSlots } from '../../../src/embedded-node/embedded-node.config';
import { backticked, differences, readmeSection, readmeVariableMentions } from '../../support/readme-config';
import {
  companions,
  documentedDefault,
  PRODUCTION_SETTINGS,
  ROW_OF,
  ROWS,
  sampleValue,
} from '../../support/readme-config-values';

// README's "Configuration" table is what an operator configures the server from: every variable the server
// reads is a row, every row is read, and each documented default is the one the loader applies.

/** Variables the server reads that have no row of their own, each with why. */
const NOT_IN_TABLE: Record<string, string> = {
  NODE_ENV: "the platform's variable, not the service's: the ENVIRONMENT row says what it selects",
};

/** Backticked UPPER_SNAKE names in README that are not settings of the server, each with why. */
const OTHER_MENTIONS: Record<string, string> = {
  RATE_LIMIT_TSAK_RPM: 'the misspelling the Configuration section gives as its example of a typo',
  CHAOS_SEED: "the chaos test's setting (test/chaos), not the server's",
  CHAOS_PROFILE: "the chaos test's setting (test/chaos), not the server's",
  BENCH_DATABASE_URL: "the benches' database (bench/), not the server's",
  NODE_OPTIONS: "Node.js's own, named by the Configuration section's throughput tuning note",
  NODE_EXTRA_CA_CERTS: "Node.js's own, the agent's way to trust a server's private CA (its TLS section)",
};

/** Names read from the environment in src/ that are neither the server's settings nor the agent's. */
const NOT_SETTINGS: Record<string, string> = {};

/** Variables render.yaml sets that are Render's own, each with why. */
const RENDER_ONLY: Record<string, string> = {
  NODE_VERSION: "Render's: which Node.js runs the service",
};

const cores = availableParallelism();

/** A loaded config as JSON (keys as JWK), so two can be compared leaf by leaf. */
const asJson = (config: AppConfig): unknown =>
  JSON.parse(
    JSON.stringify(config, (_key, value: unknown) =>
      value instanceof KeyObject ? value.export({ format: 'jwk' }) : value,
    ),
  );

/** Every .ts file under `dir` but the specs. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.spec.ts') ? [path] : [];
  });
}

const sorted = (names: Iterable<string>) => [...names].sort();

describe("README's configuration table", () => {
  let cwd: string;
  beforeAll(() => (cwd = mkdtempSync(join(tmpdir(), 'vcp-readme-config-'))));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));
  // Relative paths (DATA_DIR's default `./data`) resolve in the test's own directory.
  const load = (env: Record<string, string>) => asJson(loadConfig(env, cwd));

  it('has a row for every variable the server reads, and reads every variable it has a row for', () => {
    const known = knownVariables();
    const documented = new Set(ROW_OF.keys());
    expect(sorted([...known].filter((name) => !documented.has(name) && !(name in NOT_IN_TABLE)))).toEqual([]);
    expect(sorted([...documented].filter((name) => !known.has(name)))).toEqual([]);
    // An exception that no longer applies is removed, not kept "just in case".
    expect(
      sorted(Object.keys(NOT_IN_TABLE).filter((name) => !known.has(name) || documented.has(name))),
    ).toEqual([]);
  });

  it('names no other variable anywhere in README, but the agent’s', () => {
    const agent = new Set(
      backticked(readmeSection('The node agent and the embedded node')).filter((word) =>
        word.startsWith('VCP_'),
      ),
    );
    const unknown = [...readmeVariableMentions()].filter(
      (name) =>
        !ROW_OF.has(name) &&
        !ROWS.some((row) => row.written.includes(name)) &&
        !(name in NOT_IN_TABLE) &&
        !(name in OTHER_MENTIONS) &&
        !agent.has(name),
    );
    expect(sorted(unknown)).toEqual([]);
    const mentioned = readmeVariableMentions();
    expect(Object.keys(OTHER_MENTIONS).filter((name) => !mentioned.has(name))).toEqual([]);
  });

  it('is where every variable src/ reads outside the config schemas is documented (or the agent section)', () => {
    const agentSection = readmeSection('The node agent and the embedded node');
    const read = new Set<string>();
    for (const file of sources(join(__dirname, '../../../src'))) {
      const text = readFileSync(file, 'utf8');
      // process.env.X, process.env['X'], and a feature's raw.X / the agent's env.X.
      for (const match of text.matchAll(/\b(?:process\.env|raw|env)(?:\.(\w+)|\[['"](\w+)['"]\])/g)) {
        const name = match[1] ?? match[2];
        if (/^[A-Z][A-Z0-9_]*$/.test(name) || name.startsWith('npm_')) read.add(name);
      }
    }
    expect(read.has('DATABASE_URL')).toBe(true); // the scan sees a feature's raw reads at all
    const undocumented = [...read].filter(
      (name) =>
        !ROW_OF.has(name) &&
        !(name in NOT_IN_TABLE) &&
        !(name in NOT_SETTINGS) &&
        !(name.startsWith('VCP_') && agentSection.includes(`\`${name}\``)),
    );
    expect(sorted(undocumented)).toEqual([]);
    expect(Object.keys(NOT_SETTINGS).filter((name) => !read.has(name))).toEqual([]);
  });

  it('gives each variable the default the loader applies', () => {
    const drifts: string[] = [];
    for (const name of ROW_OF.keys()) {
      const value = documentedDefault(name, companions(name));
      if (value === undefined || value === null) continue;
      const changed = differences(load(companions(name)), load({ ...companions(name), [name]: value }));
      if (changed.length > 0)
        drifts.push(`${name}: README's default is ${value}, yet setting it changes ${changed.join('; ')}`);
    }
    expect(drifts).toEqual([]);
  });

  it('reads each variable: a value other than the default changes the configuration', () => {
    const unread: string[] = [];
    for (const name of ROW_OF.keys()) {
      const before = load(companions(name));
      const after = load({ ...companions(name), [name]: sampleValue(name) });
      if (differences(before, after).length === 0)
        unread.push(`${name}=${sampleValue(name)} changes nothing`);
    }
    expect(unread).toEqual([]);
  });

  it('has the defaults a value cannot say: LOG_LEVEL in test, the embedded node’s slots, the secrets', () => {
    const logging = (config: unknown) => (config as { logging: { level: string } }).logging.level;
    expect(logging(load({ ENVIRONMENT: 'test' }))).toBe('warn');

    const config = loadConfig({}, cwd);
    const limits = {
      maxConcurrentRuns: config.scheduling.maxConcurrentRuns,
      engineSlots: config.wasm.maxConcurrency,
    };
    expect(embeddedNodeSlots(config.embeddedNode, limits).slots).toEqual([
      // cores − 1 (≥ 1), at most NODE_MAX_CONCURRENT_RUNS (and the engine's cores, which it is below)
      Math.min(Math.max(1, cores - 1), config.scheduling.maxConcurrentRuns),
    ]);

    // Generated outside production: kept in DATA_DIR/secrets.json.
    const generated = ROWS.filter((row) => row.defaultText === 'generated outside production').flatMap(
      (row) => row.names,
    );
    const stored = JSON.parse(readFileSync(join(cwd, 'data', 'secrets.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(sorted(Object.keys(stored))).toEqual(sorted(generated));
  });

  it('follows NODE_ENV as the ENVIRONMENT row says', () => {
    const meaning = ROW_OF.get('ENVIRONMENT')!.meaning;
    for (const value of ['production', 'test', 'development', 'staging']) {
      const documented = meaning.includes(`\`NODE_ENV=${value}\``);
      const env = { NODE_ENV: value, ...PRODUCTION_SETTINGS };
      const environment = (load(env) as { core: { environment: string } }).core.environment;
      expect([value, environment]).toEqual([value, documented ? value : 'development']);
    }
  });

  it('is what the Render blueprint sets: documented variables, with values the loader takes', () => {
    const blueprint = readFileSync(join(__dirname, '../../../render.yaml'), 'utf8');
    const values = [...blueprint.matchAll(/- key: (\w+)\n\s+value: "?([^"\n]*)"?/g)];
    const all = [...blueprint.matchAll(/- key: (\w+)/g)].map((match) => match[1]);
    expect(all.filter((name) => !ROW_OF.has(name) && !(name in RENDER_ONLY))).toEqual([]);
    const literal = Object.fromEntries(
      values.filter(([, name]) => !(name in RENDER_ONLY)).map(([, name, value]) => [name, value]),
    );
    expect(Object.keys(literal).sort()).toEqual([
      'DB_MAX_CONNECTIONS',
      'ENVIRONMENT',
      'REGISTRATION',
      'TRUSTED_PROXY_CIDRS',
    ]);
    expect(literal.ENVIRONMENT).toBe('production');
    expect(literal.REGISTRATION).toBe('open');
    expect(() => loadConfig({ ...PRODUCTION_SETTINGS, ...literal }, cwd)).not.toThrow();
  });
});
