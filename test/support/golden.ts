import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RecordedResponse {
  status: number;
  body: unknown;
}

/**
 * Compares responses recorded by a test with `test/golden/<file>`, name by name. `UPDATE_GOLDEN=1` (or a
 * missing file, outside CI) records them instead: review that diff before committing it.
 */
export function expectGolden(file: string, recorded: Record<string, RecordedResponse>): void {
  const path = join(__dirname, '..', 'golden', file);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(path)) {
    if (process.env.CI) throw new Error(`${path} is missing: record it with UPDATE_GOLDEN=1`);
    writeFileSync(path, `${JSON.stringify(recorded, null, 2)}\n`);
  }
  const golden = JSON.parse(readFileSync(path, 'utf8')) as Record<string, RecordedResponse>;
  expect(Object.keys(recorded)).toEqual(Object.keys(golden));
  for (const name of Object.keys(golden))
    expect({ name, ...recorded[name] }).toEqual({ name, ...golden[name] });
}
