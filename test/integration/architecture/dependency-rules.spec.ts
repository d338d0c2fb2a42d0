import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const ROOT = join(__dirname, '..', '..', '..');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  cycle?: { name: string }[];
}

/** Runs the project's own rules (.dependency-cruiser.js) over `src/` of `dir`, as `npm run lint` does. */
async function cruise(dir: string): Promise<Violation[]> {
  const run = await promisify(execFile)(
    process.execPath,
    [DEPCRUISE, 'src', '--config', join(ROOT, '.dependency-cruiser.js'), '--output-type', 'json'],
    { cwd: dir, maxBuffer: 64 * 1024 * 1024 },
  ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
  return (JSON.parse(run.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

/** A throwaway tree: the given files (path → source) plus a tsconfig, so the rules see real imports. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'vcp-deps-'));
  cpSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  return dir;
}

describe('architecture rules (dependency-cruiser)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('the real src/ has no folder cycle and no upward import', async () => {
    expect(await cruise(ROOT)).toEqual([]);
  });

  it('catches a cycle between two feature folders', async () => {
    const dir = tree({
      'src/tasks/tasks.service.ts':
        "import { nodes } from '../nodes/nodes.service';\nexport const tasks = () => nodes;\n",
      'src/nodes/nodes.service.ts':
        "import { tasks } from '../tasks/tasks.service';\nexport const nodes = () => tasks;\n",
    });
    dirs.push(dir);
    const names = (await cruise(dir)).map((v) => v.rule.name);
    expect(names).toContain('no-folder-cycles');
  });

  it('catches a cycle that goes through a third folder', async () => {
    const dir = tree({
      'src/a/a.ts': "import { b } from '../b/b';\nexport const a = () => b;\n",
      'src/b/b.ts': "import { c } from '../c/c';\nexport const b = () => c;\n",
      'src/c/c.ts': "import { a } from '../a/a';\nexport const c = () => a;\n",
    });
    dirs.push(dir);
    expect((await cruise(dir)).map((v) => v.rule.name)).toContain('no-folder-cycles');
  });

  it('catches common/ or config/ importing a feature', async () => {
    const dir = tree({
      'src/common/helper.ts': "import { x } from '../feature/x';\nexport const helper = x;\n",
      'src/config/load.ts': "import { y } from '../feature/y';\nexport const load = y;\n",
      'src/feature/x.ts': 'export const x = 1;\n',
      'src/feature/y.ts': 'export const y = 2;\n',
      'src/feature/feature.config.ts': 'export const featureConfig = 3;\n',
      'src/config/ok.ts':
        "import { featureConfig } from '../feature/feature.config';\nexport const ok = featureConfig;\n",
    });
    dirs.push(dir);
    const found = (await cruise(dir)).map((v) => `${v.rule.name} ${v.from}`).sort();
    expect(found).toEqual([
      'common-is-a-leaf src/common/helper.ts',
      'config-imports-no-feature src/config/load.ts',
    ]);
  });
});
