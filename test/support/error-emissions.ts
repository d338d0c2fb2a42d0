import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { ErrorCode, errorCodeForStatus, ErrorReason } from '../../src/common/errors/error-code';

export const ROOT = join(__dirname, '..', '..');
const SRC = join(ROOT, 'src');
const APP_EXCEPTION_FILE = join(SRC, 'common', 'errors', 'app.exception.ts');

/** The status each code answers with unless the thrower names another: the first that maps to it. */
export const STATUS_OF: Record<string, number> = Object.fromEntries(
  Object.values(ErrorCode).map((code) => {
    const statuses = Array.from({ length: 200 }, (_, i) => 400 + i);
    return [code, statuses.find((status) => errorCodeForStatus(status) === code) ?? 0];
  }),
);

/** One place in src/ that puts a `reason` into an error body, with the `error` code and status it goes with. */
export interface ReasonEmission {
  reason: string;
  code: string;
  status: number;
  /** `src/…/file.ts:line`, for messages. */
  at: string;
}

/**
 * What src/ (specs aside) says about the error body, read from its syntax trees. Every AppException names its
 * code as `ErrorCode.X` and its reason as `ErrorReason.X` or a literal (the type of `reason` is ErrorReason, so
 * a literal is checked by the compiler); anything else is reported as unresolved, so no site escapes the
 * catalog by being written another way.
 */
export interface ErrorCatalog {
  emissions: ReasonEmission[];
  /** Sites the reader could not resolve to a literal code or reason: each is a failure to look at. */
  unresolved: string[];
  /** Error bodies built by hand (`{error, …, request_id}`) whose `error` is not a stable code. */
  untypedBodies: string[];
  /** `extra` fields of an AppException that would set the body's `error` or `reason` past their types. */
  smuggledFields: string[];
  /** ErrorReason's doc comments: the `NNN \`code\`` each one starts with. */
  documentedCodeOf: Map<string, { status: number; code: string }>;
  /** The members of DeepJsonRule: the rule a deep-JSON 422's detail message starts with. */
  deepJsonRules: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

/** `ErrorCode.Conflict` → 'conflict', `ErrorReason.LeaseLost` or `'lease_lost'` → 'lease_lost'; else null. */
function constantOf(node: ts.Node | undefined, of: Record<string, string>, name: string): string | null {
  if (node === undefined) return null;
  if (ts.isStringLiteral(node)) return Object.values(of).includes(node.text) ? node.text : null;
  if (
    ts.isPropertyAccessExpression(node) &&
    ts.isIdentifier(node.expression) &&
    node.expression.text === name
  )
    return of[node.name.text] ?? null;
  return null;
}
const codeOf = (node: ts.Node | undefined) => constantOf(node, ErrorCode, 'ErrorCode');
const reasonOf = (node: ts.Node | undefined) => constantOf(node, ErrorReason, 'ErrorReason');

/** `ErrorCode.X`, `errorCodeForStatus(…)`, an AppException's `code`, or a const of the file holding one. */
function isStableCode(value: ts.Expression, source: ts.SourceFile): boolean {
  if (codeOf(value) !== null || value.getText() === 'exception.code') return true;
  if (ts.isCallExpression(value)) return value.expression.getText() === 'errorCodeForStatus';
  if (!ts.isIdentifier(value)) return false;
  let stable = false;
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && node.name.getText() === value.text && node.initializer)
      stable ||= (node.parent.flags & ts.NodeFlags.Const) !== 0 && isStableCode(node.initializer, source);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return stable;
}

const isAppExceptionClass = (node: ts.Node): boolean =>
  ts.isClassDeclaration(node) &&
  (node.heritageClauses ?? []).some((clause) =>
    clause.types.some((type) => type.expression.getText() === 'AppException'),
  );

export function readErrorCatalog(): ErrorCatalog {
  const catalog: ErrorCatalog = {
    emissions: [],
    unresolved: [],
    untypedBodies: [],
    smuggledFields: [],
    documentedCodeOf: new Map(),
    deepJsonRules: [],
  };
  for (const file of sourceFiles(SRC)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const where = (node: ts.Node) =>
      `${relative(ROOT, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const emit = (reasonNode: ts.Node, code: string | null, status: number | null) => {
      const reason = reasonOf(reasonNode);
      if (reason === null || code === null) return void catalog.unresolved.push(where(reasonNode));
      catalog.emissions.push({ reason, code, status: status ?? STATUS_OF[code], at: where(reasonNode) });
    };
    const visit = (node: ts.Node): void => {
      // `new AppException(code, message, options)`, or `super(…)` in a subclass.
      const constructs =
        (ts.isNewExpression(node) && node.expression.getText() === 'AppException') ||
        (ts.isCallExpression(node) &&
          node.expression.kind === ts.SyntaxKind.SuperKeyword &&
          ts.findAncestor(node, isAppExceptionClass) !== undefined);
      if (constructs) {
        const [codeArgument, , options] = node.arguments ?? [];
        const code = codeOf(codeArgument);
        // AppException's own helpers pass their `reason` parameter through; their callers are read below.
        const inHelper = file === APP_EXCEPTION_FILE;
        if (code === null && !inHelper) catalog.unresolved.push(where(node));
        if (options !== undefined && !ts.isObjectLiteralExpression(options))
          catalog.unresolved.push(where(options));
        if (options !== undefined && ts.isObjectLiteralExpression(options)) {
          const status = options.properties.find((property) => property.name?.getText() === 'status');
          const statusValue =
            status && ts.isPropertyAssignment(status) && ts.isNumericLiteral(status.initializer)
              ? Number(status.initializer.text)
              : null;
          if (status && statusValue === null) catalog.unresolved.push(where(status));
          for (const property of options.properties) {
            const name = property.name?.getText();
            if (name === 'reason' && ts.isPropertyAssignment(property))
              emit(property.initializer, code, statusValue);
            else if (name === 'reason' && !inHelper) catalog.unresolved.push(where(property));
            if (name === 'extra') {
              const extra = ts.isPropertyAssignment(property) ? property.initializer : undefined;
              const fields = extra && ts.isObjectLiteralExpression(extra) ? extra.properties : undefined;
              const unsafe = (field: ts.ObjectLiteralElementLike) =>
                !field.name || ['error', 'reason'].includes(field.name.getText());
              if (!fields || fields.some(unsafe)) catalog.smuggledFields.push(where(property));
            }
          }
        }
      }
      // `AppException.unavailable(message, ms, reason)`, `AppException.overloaded(…)`: 503 service_unavailable.
      if (
        ts.isCallExpression(node) &&
        ['AppException.unavailable', 'AppException.overloaded'].includes(node.expression.getText()) &&
        node.arguments[2] !== undefined
      ) {
        emit(node.arguments[2], ErrorCode.ServiceUnavailable, null);
      }
      // A body written by hand: its `error` is a stable code (a constant, the status's code, an AppException's).
      if (ts.isObjectLiteralExpression(node)) {
        const names = node.properties.map((property) => property.name?.getText());
        const error = node.properties.find((property) => property.name?.getText() === 'error');
        const value = error && ts.isPropertyAssignment(error) ? error.initializer : undefined;
        // An object there is a schema (the OpenAPI document's ErrorResponse), not a body.
        if (error && names.includes('request_id') && !(value && ts.isObjectLiteralExpression(value))) {
          if (!value || !isStableCode(value, source)) catalog.untypedBodies.push(where(error));
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    if (file.endsWith(join('common', 'errors', 'error-code.ts')))
      readReasonDocs(source, catalog.documentedCodeOf);
    if (file.endsWith(join('common', 'validation', 'deep-json.ts')))
      catalog.deepJsonRules = readUnion(source, 'DeepJsonRule');
  }
  return catalog;
}

/** `/** 409 \`conflict\`: …` above each ErrorReason member. */
function readReasonDocs(source: ts.SourceFile, into: Map<string, { status: number; code: string }>): void {
  const visit = (node: ts.Node): void => {
    if (ts.isPropertyAssignment(node) && reasonOf(node.initializer) !== null) {
      const comment = (ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [])
        .map((range) => source.text.slice(range.pos, range.end))
        .join('\n');
      const found = /(\d{3}) `([a-z_]+)`/.exec(comment);
      if (found) into.set(reasonOf(node.initializer)!, { status: Number(found[1]), code: found[2] });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
}

function readUnion(source: ts.SourceFile, name: string): string[] {
  let members: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isTypeAliasDeclaration(node) && node.name.text === name && ts.isUnionTypeNode(node.type)) {
      members = node.type.types.flatMap((member) =>
        ts.isLiteralTypeNode(member) && ts.isStringLiteral(member.literal) ? [member.literal.text] : [],
      );
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return members;
}

/** A client in this repository branching on a reason: `status === 409 && error.code === 'lease_lost'`. */
export interface ClientBranch {
  /** The literal compared with a `.code` or `.reason` (TransportError.code holds the reason when there is one). */
  value: string;
  /** The status compared in the same `&&` chain, if any. */
  status: number | null;
  at: string;
}

/**
 * The branches on error codes and reasons in the node agent, the embedded node and examples/: what a client
 * writer copies. Only snake_case literals count (Node's error codes, `ECONNRESET`, are not the server's).
 */
export function readClientBranches(): ClientBranch[] {
  const files = [
    ...sourceFiles(join(SRC, 'agent')),
    ...sourceFiles(join(SRC, 'embedded-node')),
    ...readdirSync(join(ROOT, 'examples'))
      .filter((name) => name.endsWith('.mjs'))
      .map((name) => join(ROOT, 'examples', name)),
  ];
  const branches: ClientBranch[] = [];
  for (const file of files) {
    const kind = file.endsWith('.mjs') ? ts.ScriptKind.JS : ts.ScriptKind.TS;
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, kind);
    const comparison = (node: ts.Expression, field: RegExp) =>
      ts.isBinaryExpression(node) &&
      node.operatorToken.kind === ts.SyntaxKind.EqualsEqualsEqualsToken &&
      ts.isPropertyAccessExpression(node.left) &&
      field.test(node.left.name.text)
        ? node.right
        : undefined;
    const isAnd = (node: ts.Node): node is ts.BinaryExpression =>
      ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.AmpersandAmpersandToken;
    /** The terms of the whole `&&` chain a comparison sits in (itself alone when it is in none). */
    const chainOf = (node: ts.Expression): ts.Expression[] => {
      let top = node;
      while (isAnd(top.parent)) top = top.parent;
      const terms: ts.Expression[] = [];
      const flatten = (term: ts.Expression): void => {
        if (isAnd(term)) [term.left, term.right].forEach(flatten);
        else terms.push(term);
      };
      flatten(top);
      return terms;
    };
    const visit = (node: ts.Node): void => {
      const value = ts.isExpression(node) ? comparison(node, /^(code|reason)$/) : undefined;
      if (value && ts.isStringLiteral(value) && /^[a-z]+(_[a-z]+)+$/.test(value.text)) {
        const status = chainOf(node as ts.Expression)
          .map((term) => comparison(term, /^status$/))
          .find((right) => right !== undefined);
        branches.push({
          value: value.text,
          status: status && ts.isNumericLiteral(status) ? Number(status.text) : null,
          at: `${relative(ROOT, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`,
        });
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return branches;
}
