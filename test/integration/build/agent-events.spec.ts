import { readAgentEvents } from '../../support/agent-events';
import { README, section } from '../../support/readme-errors';

interface EventRow {
  event: string;
  kind: string;
  fields: string[];
}

const backticked = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]);

/** README's `--json` table in the agent's section: `event`, kind, fields (backticked names), when. */
function readmeEventTable(readme = README): EventRow[] {
  const agent = section(readme, '## The node agent and the embedded node');
  const start = agent.indexOf('- `--json` lines');
  const end = agent.indexOf('\n- ', start + 1);
  if (start < 0 || end < 0) throw new Error('README\'s agent section has no "- `--json` lines" item');
  return agent
    .slice(start, end)
    .split(/\n\s*\| -+ \|.*\n/)[1] // the rows under the header
    .split('\n')
    .filter((line) => /^\s*\| `[a-z_]+` +\|/.test(line))
    .map((line) => {
      const [event, kind, fields] = line.split('|').slice(1, 4);
      return { event: backticked(event)[0], kind: kind.trim(), fields: backticked(fields) };
    });
}

/**
 * A log pipeline keys on `--json` lines' `event` and fields: every event the agent can write (read statically
 * from src/agent and src/embedded-node, so a new one fails here before any test runs it) is in README's table
 * with each of its fields, and the table names no event or field the agent never writes.
 */
describe('agent --json events: what src/ emits is what README documents', () => {
  const catalog = readAgentEvents();
  const table = readmeEventTable();
  const rows = new Map(table.map((row) => [row.event, row]));

  it('reads every site that builds an event line (none whose fields it cannot resolve)', () => {
    expect(catalog.unresolved).toEqual([]);
    // The reader is not blind: it sees spreads, conditional fields and the line main.ts writes itself.
    expect(catalog.sites).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'stopped', fields: expect.arrayContaining(['lease_lost']) }),
        expect.objectContaining({ event: 'submitted', fields: expect.arrayContaining(['run_status']) }),
        expect.objectContaining({ event: 'dropped', fields: expect.arrayContaining(['result_status']) }),
        expect.objectContaining({ event: 'exited', fields: expect.arrayContaining(['code']) }),
      ]),
    );
    expect(table.length).toBeGreaterThan(10);
  });

  it('documents every emitted event with each of its fields', () => {
    const missing = catalog.sites.flatMap(({ event, fields, where }) => {
      const row = rows.get(event);
      if (!row) return [`${event} (${where}): no row`];
      // `time` is on every line, said once above the table.
      return fields
        .filter((f) => f !== 'time' && !row.fields.includes(f))
        .map((f) => `${event}.${f} (${where})`);
    });
    expect(missing).toEqual([]);
  });

  it('documents no event or field the agent never emits, and gives each a kind', () => {
    const emitted = new Map<string, Set<string>>();
    for (const { event, fields } of catalog.sites) {
      const seen = emitted.get(event) ?? new Set<string>();
      fields.forEach((f) => seen.add(f));
      emitted.set(event, seen);
    }
    const extra = table.flatMap(({ event, fields }) => {
      const seen = emitted.get(event);
      if (!seen) return [`${event}: never emitted`];
      return fields.filter((f) => !seen.has(f)).map((f) => `${event}.${f}: never emitted`);
    });
    expect(extra).toEqual([]);
    expect(table.filter((row) => !['info', 'warn', 'error'].includes(row.kind))).toEqual([]);
    expect(new Set(table.map((row) => row.event)).size).toBe(table.length);
  });

  it('says every line carries `time` and that names are stable', () => {
    const agent = section(README, '## The node agent and the embedded node');
    expect(agent).toMatch(/each line on stdout is one JSON object with `time`/);
    expect(agent).toMatch(/Event and field names are stable;\s+fields may be added/);
  });
});
