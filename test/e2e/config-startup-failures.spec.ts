import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMigrationCli } from '../support/migration-cli';
import { runServerToExit } from '../support/server-process';

/** The JSON lines of an output (stdout's log lines) and the rest (stderr's plain text). */
function split(output: string): { json: Record<string, unknown>[]; text: string } {
  const lines = output.trim().split('\n');
  return {
    json: lines
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>),
    text: lines.filter((line) => !line.startsWith('{')).join('\n'),
  };
}

/** Starts refused for their settings (exit 78): each says why on stderr and as the one fatal JSON line. */
describe('a start refused for its settings', () => {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), 'vcp-config-start-'))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('refuses DATA_DIR under /proc at the config check, where mkdir -p would spin for ever', async () => {
    // runServerToExit kills a server still running after 40 s: a regression fails, it does not hang.
    const { code, output } = await runServerToExit({ DATA_DIR: '/proc/vcp-test-nope' });
    const message =
      'Invalid configuration:\n  - DATA_DIR: cannot create /proc/vcp-test-nope: /proc is on proc, a kernel file system';
    expect([code, split(output).text]).toEqual([78, message]);
    expect(split(output).json).toEqual([
      expect.objectContaining({ level: 60, msg: `startup failed: ${message}` }),
    ]);
    const migration = await runMigrationCli('', 'run', { DATA_DIR: '/proc/vcp-test-nope' }, 30_000);
    expect(migration.code).toBe(78);
    expect(migration.out).toContain('DATA_DIR: cannot create /proc/vcp-test-nope');
  }, 90_000);

  it('says a damaged DATA_DIR/secrets.json as the fatal line too, not only on stderr', async () => {
    writeFileSync(join(dataDir, 'secrets.json'), '[1,2');
    const { code, output } = await runServerToExit({ DATA_DIR: dataDir });
    const { json, text } = split(output);
    expect(code).toBe(78);
    expect(text).toMatch(/^startup failed: DATA_DIR\/secrets\.json \(.+\) is damaged/);
    expect(json).toEqual([
      expect.objectContaining({
        level: 60,
        context: 'Bootstrap',
        msg: text,
      }),
    ]);
  });

  it('does not echo a refused APP_VERSION in the fatal line', async () => {
    const { code, output } = await runServerToExit({ DATA_DIR: dataDir, APP_VERSION: '1 2' });
    const { json } = split(output);
    expect(code).toBe(78);
    expect(json).toEqual([
      expect.objectContaining({
        level: 60,
        msg: 'startup failed: Invalid configuration:\n  - APP_VERSION: has characters that are not allowed',
      }),
    ]);
    expect(json[0].version).not.toBe('1 2');
    expect(output).not.toContain('1 2');
  });
});
