import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, ErrorReason } from '../../../src/common/errors/error-code';
import { readClientBranches, readErrorCatalog, ROOT } from '../../support/error-emissions';
import {
  mentions,
  namedReasons,
  README,
  readmeErrorCodes,
  readmeReasonTable,
  section,
} from '../../support/readme-errors';

/**
 * Client libraries branch on the body's `error` and `reason`: every one the server can emit is listed in README
 * (codes in HTTP conventions; reasons in the "Error reasons" table and where their route is described) with the
 * status it comes with, and README names none the server never emits. Read statically from src/, so a new
 * `reason` fails here before any route test is written. The OpenAPI side: test/e2e/openapi-error-reasons.spec.ts.
 */
describe('error codes and reasons: what src/ emits is what README documents', () => {
  const catalog = readErrorCatalog();
  const table = readmeReasonTable();
  const emitted = new Set(catalog.emissions.map((emission) => emission.reason));
  /** README's table without its own rows, for "described where the route is". */
  const elsewhere = README.replace(section(README, '### Error reasons'), '');

  it('reads every site that builds an error body (no code or reason it cannot resolve)', () => {
    expect(catalog.unresolved).toEqual([]);
    expect(catalog.untypedBodies).toEqual([]);
    // `extra` is untyped: a `reason` or `error` there would bypass ErrorReason and ErrorCode.
    expect(catalog.smuggledFields).toEqual([]);
    // The reader is not blind: it finds the sites this spec was written against.
    expect(catalog.emissions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'lease_lost', code: 'conflict', status: 409 }),
        expect.objectContaining({ reason: 'shutting_down', code: 'service_unavailable', status: 503 }),
      ]),
    );
  });

  it('lists exactly the stable error codes in HTTP conventions', () => {
    expect(readmeErrorCodes().sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it('emits every ErrorReason somewhere, and no reason that is not one', () => {
    expect([...emitted].sort()).toEqual(Object.values(ErrorReason).sort());
  });

  it('has one row per reason in the "Error reasons" table, with the status and code it is emitted with', () => {
    expect(table.map((row) => row.reason).sort()).toEqual(Object.values(ErrorReason).sort());
    for (const row of table) {
      const answers = catalog.emissions
        .filter((emission) => emission.reason === row.reason)
        .map(({ status, code, at }) => ({ status, code, at }));
      const expected = answers.map(({ at }) => ({ status: row.status, code: row.code, at }));
      expect({ reason: row.reason, answers }).toEqual({ reason: row.reason, answers: expected });
    }
  });

  it('says the same status in ErrorReason’s doc comments', () => {
    for (const { reason, status, code } of table) {
      expect({ reason, ...catalog.documentedCodeOf.get(reason) }).toEqual({ reason, status, code });
    }
  });

  it('describes every reason where its route is described, not only in the table', () => {
    const missing = [...emitted].filter((reason) => !mentions(elsewhere, reason));
    expect(missing).toEqual([]);
  });

  it('names no reason the server does not emit (README, DEVELOPERS.md, docs/)', () => {
    const docs = readdirSync(join(ROOT, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => join('docs', name));
    const unknown = ['README.md', 'DEVELOPERS.md', ...docs].flatMap((file) =>
      namedReasons(readFileSync(join(ROOT, file), 'utf8'))
        .filter((reason) => !emitted.has(reason))
        .map((reason) => `${file}: ${reason}`),
    );
    expect(unknown).toEqual([]);
  });

  it('has the clients in this repository (node agent, embedded node, examples/) branch on real reasons, at their status', () => {
    const known = new Set<string>([...Object.values(ErrorCode), ...Object.values(ErrorReason)]);
    const statusOf = new Map(table.map((row) => [row.reason, row.status]));
    const branches = readClientBranches();
    expect(branches.map((branch) => branch.value)).toEqual(
      expect.arrayContaining(['lease_lost', 'signature_invalid', 'no_public_key']),
    );
    const wrong = branches.filter(
      ({ value, status }) => !known.has(value) || (status !== null && statusOf.get(value) !== status),
    );
    expect(wrong).toEqual([]);
  });

  it('names each deep-JSON rule a 422 detail can start with', () => {
    // `not_json` (a non-finite number, a function, a class instance) cannot come out of a parsed JSON body.
    const unreachable = new Set(['not_json']);
    const rules = catalog.deepJsonRules.filter((rule) => !unreachable.has(rule));
    expect(rules).toEqual(expect.arrayContaining(['max_depth', 'forbidden_key']));
    expect(rules.filter((rule) => !mentions(README, rule))).toEqual([]);
  });
});
