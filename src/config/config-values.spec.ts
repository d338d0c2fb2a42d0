import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { configProblems } from '../../test/support/config-problems';
import { loadConfig } from './load-config';

/** Rules of single values and pairs that the schemas' ranges do not state. */
describe('loadConfig: values', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-config-values-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  const load = (env: Record<string, string>) => loadConfig({ DATA_DIR: dataDir, ...env }, dataDir);
  const problemsOf = (env: Record<string, string>) => configProblems(() => load(env));

  describe('a blank value counts as unset', () => {
    it.each(['', ' ', '\t\n'])('for a whole-number variable (%j): the default applies', (blank) => {
      const sut = load({ PORT: blank, DB_MAX_CONNECTIONS: blank, WASM_MAX_CONCURRENCY: blank });
      expect(sut.http.port).toBe(3000);
      expect(sut.database.maxConnections).toBe(10);
      expect(sut.wasm.maxConcurrency).toBe(availableParallelism());
    });

    it('still refuses text in a whole-number variable', () => {
      expect(problemsOf({ PORT: ' x ' })).toEqual(['PORT: must be a whole number from 0 to 65535']);
    });

    it('for DATABASE_URL: the embedded database, and the embedded node that goes with it', () => {
      const sut = load({ DATABASE_URL: ' ', EMBEDDED_NODES: '2' });
      expect(sut.database.url).toBeNull();
      expect(sut.embeddedNode).toMatchObject({ enabled: true, embeddedDatabase: true, ignored: null });
    });
  });

  describe('METRICS_TOKEN', () => {
    it.each([
      ['a trailing newline (read from a file)', 'metrics-token-0123456789abcdef\n'],
      ['a space', 'metrics token 0123456789abcdef'],
      ['a tab', 'metrics-token\t0123456789abcdef'],
    ])('refuses %s, which no bearer header could match, naming the variable only', (_case, token) => {
      expect(problemsOf({ METRICS_TOKEN: token })).toEqual([
        'METRICS_TOKEN: must not contain whitespace (a trailing newline from the file it was read from, say): ' +
          'a bearer token holds none, so it could never match',
      ]);
    });

    it('takes a token without whitespace', () => {
      expect(load({ METRICS_TOKEN: 'metrics-token-0123456789abcdef' }).metrics.token).toBe(
        'metrics-token-0123456789abcdef',
      );
    });
  });

  describe('WASM_MAX_CONCURRENCY_PER_USER', () => {
    it('refuses a value set above WASM_MAX_CONCURRENCY, naming both and neither value', () => {
      expect(problemsOf({ WASM_MAX_CONCURRENCY: '2', WASM_MAX_CONCURRENCY_PER_USER: '8' })).toEqual([
        'WASM_MAX_CONCURRENCY_PER_USER: must be at most WASM_MAX_CONCURRENCY',
      ]);
    });

    it('refuses one above the default WASM_MAX_CONCURRENCY, saying what that default is', () => {
      const cores = availableParallelism();
      expect(problemsOf({ WASM_MAX_CONCURRENCY_PER_USER: String(cores + 1) })).toEqual([
        `WASM_MAX_CONCURRENCY_PER_USER: must be at most WASM_MAX_CONCURRENCY (unset: the number of cores, ${cores})`,
      ]);
    });

    it('takes a value up to WASM_MAX_CONCURRENCY, and the default (half, rounded up) fits any', () => {
      expect(load({ WASM_MAX_CONCURRENCY: '3', WASM_MAX_CONCURRENCY_PER_USER: '3' }).wasm).toMatchObject({
        maxConcurrency: 3,
        maxConcurrencyPerUser: 3,
      });
      for (const [max, perUser] of [
        [1, 1],
        [2, 1],
        [5, 3],
      ])
        expect(load({ WASM_MAX_CONCURRENCY: String(max) }).wasm.maxConcurrencyPerUser).toBe(perUser);
    });

    it('adds nothing when a value is already refused by its own range', () => {
      expect(problemsOf({ WASM_MAX_CONCURRENCY: '0', WASM_MAX_CONCURRENCY_PER_USER: '300' })).toEqual([
        'WASM_MAX_CONCURRENCY: must be a whole number from 1 to 256',
        'WASM_MAX_CONCURRENCY_PER_USER: must be a whole number from 1 to 256',
      ]);
    });
  });
});
