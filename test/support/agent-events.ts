import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const ROOT = join(__dirname, '..', '..');
const DIRS = ['src/agent', 'src/embedded-node'];

/** One place that builds an agent output line: `{ event: '<name>', ... }`, with the fields its type holds. */
export interface EventSite {
  event: string;
  fields: string[];
  where: string;
}

export interface EventCatalog {
  sites: EventSite[];
  /** Sites whose fields cannot be read from their type (an index signature, an `event` that is no literal). */
  unresolved: string[];
}

const sourceFiles = () =>
  DIRS.flatMap((dir) =>
    readdirSync(join(ROOT, dir))
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'))
      .map((name) => join(ROOT, dir, name)),
  );

/**
 * Every object literal in the agent's and the embedded node's sources with an `event` property: what the
 * reporter emits and the `exited` line main.ts writes itself. Fields come from the type checker, so spreads
 * (`...this.counters`, conditional `...(x ? { run_status } : {})`) count with the properties they bring.
 */
export function readAgentEvents(): EventCatalog {
  const program = ts.createProgram(sourceFiles(), {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: true,
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const sites: EventSite[] = [];
  const unresolved: string[] = [];
  for (const file of program.getSourceFiles()) {
    if (!DIRS.some((dir) => relative(ROOT, file.fileName).startsWith(dir))) continue;
    const visit = (node: ts.Node): void => {
      if (ts.isObjectLiteralExpression(node)) {
        const eventProp = node.properties.find(
          (p) => ts.isPropertyAssignment(p) && p.name.getText(file) === 'event',
        ) as ts.PropertyAssignment | undefined;
        if (eventProp) {
          const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
          const where = `${relative(ROOT, file.fileName)}:${line + 1}`;
          const type = checker.getTypeAtLocation(node);
          // A spread of a record would bring fields nobody can read here: such a site must say its fields.
          const opaque = node.properties.some(
            (p) =>
              ts.isSpreadAssignment(p) &&
              checker.getTypeAtLocation(p.expression).getStringIndexType() !== undefined,
          );
          if (!ts.isStringLiteral(eventProp.initializer) || opaque || type.getStringIndexType()) {
            unresolved.push(where);
          } else {
            const fields = type
              .getProperties()
              .map((p) => p.getName())
              .filter((name) => name !== 'event');
            sites.push({ event: eventProp.initializer.text, fields, where });
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return { sites, unresolved };
}
