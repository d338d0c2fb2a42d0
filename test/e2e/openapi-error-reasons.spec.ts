import { ErrorCode, ErrorReason } from '../../src/common/errors/error-code';
import { useOpenApiDocument } from '../support/openapi';
import { mentions, readmeReasonTable } from '../support/readme-errors';

const REASONS: readonly string[] = Object.values(ErrorReason);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const EVERY_ROUTE = 'every route';

/** `POST /tasks/:task_id/receipt` as README writes it → the document's `POST /api/v1/tasks/{task_id}/receipt`. */
const documentRoute = (route: string) => {
  const [method, path] = route.split(' ');
  return `${method} /api/v1${path.replace(/:([a-z_]+)/g, '{$1}')}`;
};

/**
 * A code generator's user reads a route's reasons from its responses in /api-docs/openapi.json: each reason of
 * README's "Error reasons" table is described on each route the table names, under the status it is emitted
 * with (test/integration/build/error-codes.spec.ts ties the table to src/), and on no other route or status.
 */
describe('the OpenAPI document describes each error reason where README says it is answered', () => {
  const openapi = useOpenApiDocument();
  const table = readmeReasonTable();

  /** Every documented error response: `POST /api/v1/tasks` 409 → its description. */
  const responses = () =>
    Object.entries(openapi.doc.paths).flatMap(([path, item]) =>
      METHODS.filter((method) => item[method]).flatMap((method) =>
        Object.entries(item[method].responses).map(([status, response]) => ({
          route: `${method.toUpperCase()} ${path}`,
          status: Number(status),
          description: (response as { description?: string }).description ?? '',
        })),
      ),
    );

  it('lists every code and every reason in the ErrorResponse schema, for a client generated from it', () => {
    const properties = openapi.doc.components.schemas.ErrorResponse.properties as Record<
      string,
      { description: string }
    >;
    const unlisted = [
      ...Object.values(ErrorCode).filter((code) => !mentions(properties.error.description, code)),
      ...REASONS.filter((reason) => !mentions(properties.reason.description, reason)),
    ];
    expect(unlisted).toEqual([]);
  });

  it('describes each reason on every route README lists for it, under its status', () => {
    const missing: string[] = [];
    for (const { reason, status, routes } of table) {
      const listed = routes.includes(EVERY_ROUTE) ? null : new Set(routes.map(documentRoute));
      const candidates = responses().filter((response) => listed === null || listed.has(response.route));
      // Every route the table names exists in the document (a typo would otherwise pass as "nothing to check").
      if (listed !== null) {
        for (const route of listed)
          if (!candidates.some((response) => response.route === route))
            missing.push(`${reason}: no ${route}`);
      }
      const routesHere = new Set(candidates.map((response) => response.route));
      for (const route of routesHere) {
        const answer = candidates.find((response) => response.route === route && response.status === status);
        if (!answer || !mentions(answer.description, reason)) missing.push(`${reason}: ${route} ${status}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('names no reason on a route or status README does not list it for, and no unknown reason', () => {
    const misplaced: string[] = [];
    for (const { route, status, description } of responses()) {
      for (const { reason, status: expected, routes } of table) {
        if (!mentions(description, reason)) continue;
        const listed = routes.includes(EVERY_ROUTE) || routes.map(documentRoute).includes(route);
        if (!listed || status !== expected) misplaced.push(`${reason}: ${route} ${status}`);
      }
      for (const [, named] of description.matchAll(/`reason: "?([a-z_]+)"?`/g))
        if (!REASONS.includes(named)) misplaced.push(`unknown ${named}: ${route} ${status}`);
    }
    expect(misplaced).toEqual([]);
  });
});
