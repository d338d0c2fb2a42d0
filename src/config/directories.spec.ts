import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configProblems } from '../../test/support/config-problems';
import { loadConfig, loadDatabaseSettings } from './load-config';

/** Secrets given, so that nothing is generated into DATA_DIR: the check alone is under test. */
const SECRETS = {
  JWT_SECRET: 'k7Qw9zR2mX4pL8vN1bY6cF3hJ5tG0sAa',
  REFRESH_TOKEN_PEPPER: 'pepper-one-0123456789abcdefghij',
  API_KEY_PEPPER: 'pepper-two-0123456789abcdefghij',
  RECEIPT_SIGNING_KEY: 'mdxg7/LIAXTrB3rgZu/obbg/dOQ1chnNDwrA4FktBZA=',
};
const POSTGRES = { DATABASE_URL: 'postgres://vcp@db.internal:5432/vcp' };

describe('directories at the config check', () => {
  let root: string;
  let file: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'vcp-dirs-'));
    file = join(root, 'afile');
    writeFileSync(file, 'not a directory');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const load = (env: Record<string, string>) =>
    loadConfig({ DATA_DIR: join(root, 'data'), ...SECRETS, ...env }, root);
  const problemsOf = (env: Record<string, string>) => configProblems(() => load(env));

  it.each([
    ['WASM_ALLOWED_ROOTS', {}],
    ['CIRCUIT_STORAGE_DIR', {}],
    ['DATA_DIR', {}],
    ['CONTENT_CACHE_DIR', POSTGRES],
  ])(
    'refuses %s below a regular file, in one line naming the variable and the file in the way',
    (name, env) => {
      expect(problemsOf({ ...env, [name]: join(file, 'sub') })).toEqual([
        `${name}: cannot create ${join(file, 'sub')}: ${file} is not a directory`,
      ]);
    },
  );

  it.each([
    ['DATA_DIR', {}],
    ['WASM_ALLOWED_ROOTS', {}],
    ['CIRCUIT_STORAGE_DIR', {}],
    ['CONTENT_CACHE_DIR', POSTGRES],
  ])(
    'refuses %s under /proc or /sys, where access() lets root write but nothing can be made',
    (name, env) => {
      // Node's mkdir -p under /proc never returns: the check is what keeps the start from spinning.
      expect(problemsOf({ ...env, [name]: '/proc/vcp-test-nope' })).toEqual([
        `${name}: cannot create /proc/vcp-test-nope: /proc is on proc, a kernel file system`,
      ]);
      expect(problemsOf({ ...env, [name]: '/sys/vcp-test-nope/deeper' })).toEqual([
        `${name}: cannot create /sys/vcp-test-nope/deeper: /sys is on sysfs, a kernel file system`,
      ]);
    },
  );

  it('refuses a directory on /proc to write in, and for the migration CLI too', () => {
    expect(problemsOf({ DATA_DIR: '/proc' })).toEqual([
      'DATA_DIR: /proc is not writable: it is on proc, a kernel file system',
    ]);
    expect(configProblems(() => loadDatabaseSettings({ DATA_DIR: '/proc/vcp-test-nope' }, root))).toEqual([
      'DATA_DIR: cannot create /proc/vcp-test-nope: /proc is on proc, a kernel file system',
    ]);
  });

  it('refuses a path that is a regular file, and says each variable', () => {
    expect(
      problemsOf({ WASM_ALLOWED_ROOTS: `${join(root, 'ok')},${file}`, CIRCUIT_STORAGE_DIR: file }),
    ).toEqual([
      `WASM_ALLOWED_ROOTS: ${file} is not a directory`,
      `CIRCUIT_STORAGE_DIR: ${file} is not a directory`,
    ]);
  });

  it('refuses WASM_ALLOWED_ROOTS naming no directory (it failed as the module store started)', () => {
    expect(problemsOf({ WASM_ALLOWED_ROOTS: ' , ' })).toEqual([
      'WASM_ALLOWED_ROOTS: must name at least one directory',
    ]);
  });

  it('says a DATA_DIR that cannot be one once, not again for the defaults below it', () => {
    expect(problemsOf({ DATA_DIR: file })).toEqual([`DATA_DIR: ${file} is not a directory`]);
  });

  it('checks without creating anything; missing directories below a writable one are fine', () => {
    const config = load({ WASM_ALLOWED_ROOTS: join(root, 'a/b/modules'), CIRCUIT_STORAGE_DIR: 'circuits' });
    expect(config.wasm.allowedRoots).toEqual([join(root, 'a/b/modules')]);
    expect(existsSync(join(root, 'a'))).toBe(false);
    expect(existsSync(join(root, 'circuits'))).toBe(false);
    expect(existsSync(join(root, 'data'))).toBe(false);
  });

  it('does not require DATA_DIR on PostgreSQL with every secret given, nor CONTENT_CACHE_DIR without it', () => {
    mkdirSync(join(root, 'elsewhere'));
    const dirs = {
      WASM_ALLOWED_ROOTS: join(root, 'elsewhere'),
      CIRCUIT_STORAGE_DIR: join(root, 'elsewhere'),
    };
    expect(
      load({ ...POSTGRES, ...dirs, DATA_DIR: file, CONTENT_CACHE_DIR: join(root, 'cache') }),
    ).toBeDefined();
    expect(load({ CONTENT_CACHE_DIR: join(file, 'sub') })).toBeDefined();
  });

  it('checks DATA_DIR for the migration CLI on the embedded database', () => {
    expect(configProblems(() => loadDatabaseSettings({ DATA_DIR: join(file, 'sub') }, root))).toEqual([
      `DATA_DIR: cannot create ${join(file, 'sub')}: ${file} is not a directory`,
    ]);
    expect(loadDatabaseSettings({ ...POSTGRES, DATA_DIR: file }, root).database.url).toBe(
      POSTGRES.DATABASE_URL,
    );
  });
});
