/**
 * Issue 13's abuse scenarios in bounded form: every module in bench/abuse/ exports
 * `run(): Promise<{ name, lines, pass }>`; this runs each in turn (file name order, or only those named in
 * ABUSE_ONLY, comma-separated file names without extension), prints what each measured and a summary, and
 * exits 1 if any missed its target.
 *
 *   npm run bench:abuse            (DATABASE_URL for PostgreSQL; PGlite otherwise)
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AbuseResult } from './support/abuse';

const DIR = join(__dirname, 'abuse');

async function main(): Promise<void> {
  const only = process.env.ABUSE_ONLY?.split(',').map((name) => name.trim());
  const scenarios = readdirSync(DIR)
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -'.js'.length))
    .filter((name) => !only || only.includes(name))
    .sort();
  const results: (AbuseResult & { file: string })[] = [];
  for (const file of scenarios) {
    type Scenario = { run?: () => Promise<AbuseResult> };
    const loaded = (await import(pathToFileURL(join(DIR, `${file}.js`)).href)) as Scenario & {
      default?: Scenario;
    };
    let result: AbuseResult;
    try {
      const run = loaded.run ?? loaded.default?.run;
      if (!run) throw new Error('exports no run()');
      result = await run();
    } catch (error) {
      result = {
        name: file,
        lines: [`  failed: ${error instanceof Error ? error.message : String(error)}`],
        pass: false,
      };
    }
    results.push({ ...result, file });
    console.log(`\n[${file}] ${result.name}`);
    for (const line of result.lines) console.log(`  ${line}`);
  }
  console.log('\nsummary');
  for (const r of results) console.log(`  ${r.pass ? 'PASS' : 'MISS'}  ${r.file}: ${r.name}`);
  const passed = results.filter((r) => r.pass).length;
  console.log(`${passed} of ${results.length} scenarios met their targets`);
  if (passed < results.length) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
