import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUPPORTED_NODE, unsupportedNodeReason } from './supported-node';

describe('unsupportedNodeReason', () => {
  it.each(['20.19.0', '20.20.2', '22.12.0', '22.23.3', '23.0.0', '24.21.0', '26.1.0'])(
    'accepts %s',
    (version) => {
      expect(unsupportedNodeReason(version)).toBeNull();
    },
  );

  // The versions before require(esm) without a flag: the server would fail to load @fastify/static on them.
  it.each(['18.20.4', '20.11.1', '20.18.3', '21.7.3', '22.0.0', '22.11.0'])(
    'refuses %s, naming it',
    (version) => {
      expect(unsupportedNodeReason(version)).toContain(`this is ${version}`);
    },
  );

  it('says what package.json declares', () => {
    const manifest = JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')) as {
      engines: { node: string };
    };
    expect(manifest.engines.node).toBe(SUPPORTED_NODE);
  });

  // The check only helps if it runs before the entry point loads anything else.
  it.each(['main.ts', 'cli.ts', 'migration-cli.ts', 'agent/main.ts', 'receipts/verify-receipt.ts'])(
    'src/%s imports the check before anything else',
    (entry) => {
      const source = readFileSync(join(__dirname, '../..', entry), 'utf8');
      const firstImport = /^import\b.*$/m.exec(source)?.[0];
      expect(firstImport).toMatch(/^import '\.{1,2}\/(common\/)?runtime\/require-supported-node';$/);
    },
  );
});
