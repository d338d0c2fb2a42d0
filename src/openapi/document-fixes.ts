import type { OpenAPIObject } from '@nestjs/swagger';
import { REPLACED_BY_HEADER, SUNSET_HEADER } from '../common/auth/key-sunset';
import { RATE_TIER_EXTENSION } from '../common/auth/rate-tier.decorator';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { IGNORES_QUERY_EXTENSION } from '../common/http/unknown-input.guard';
import { OPERATION_SUMMARIES } from './operation-summaries';
import { pathParameterDescription } from './path-parameters';

type Schema = Record<string, unknown>;
interface Response {
  description?: string;
  content?: unknown;
  headers?: Record<string, unknown>;
}
interface Operation {
  summary?: string;
  parameters?: { in: string; name: string; description?: string }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  security?: Record<string, string[]>[];
  responses: Record<string, Response>;
  [extension: `x-${string}`]: unknown;
}

const ERROR_SCHEMA = 'ErrorResponse';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/** Response headers, defined once under components.headers and referenced from each response. */
const HEADERS: Record<string, { description: string; schema: Schema }> = {
  'X-Request-Id': {
    description: "This request's id, also in the error body and the server log (a caller's UUID is kept)",
    schema: { type: 'string' },
  },
  'X-RateLimit-Limit': {
    description:
      "Requests allowed per minute on this route's tier for this caller; on a 429 of the per-second burst " +
      'limit, the burst (and X-RateLimit-Reset is then 1)',
    schema: { type: 'integer' },
  },
  'X-RateLimit-Remaining': {
    description: 'Requests left in the current window (the minute, or the second of a burst 429)',
    schema: { type: 'integer' },
  },
  'X-RateLimit-Reset': { description: 'Seconds until the window ends', schema: { type: 'integer' } },
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
  'WWW-Authenticate': {
    description:
      'On every 401: `Bearer realm="vcp"`, with `error="invalid_token"` when a bearer token was sent and refused',
    schema: { type: 'string', example: 'Bearer realm="vcp", error="invalid_token"' },
  },
  [SUNSET_HEADER]: {
    description:
      'RFC 8594, on answers to a request authenticated by an API key that stops working at a known time (its ' +
      "expiry, or the end of a rotation's grace period): when the server stops accepting it, an HTTP-date",
    schema: { type: 'string', example: 'Wed, 01 Jul 2026 12:00:00 GMT' },
  },
  [REPLACED_BY_HEADER]: {
    description:
      'Beside Sunset, when a rotation ends the key: the key_id of the key that replaces it (an id, not the key)',
    schema: { type: 'string', format: 'uuid' },
  },
};
const RATE_LIMIT_HEADERS = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];
/** What the pipeline answers before a route's guards run: such an answer carries no key's Sunset. */
const BEFORE_AUTHENTICATION = new Set([400, 401, 413, 414, 415]);
const SHUTTING_DOWN =
  'The server is shutting down (`service_unavailable`, `reason: shutting_down`): retry after `Retry-After` ' +
  'seconds (another replica may answer at once)';

/**
 * What the decorators cannot say route by route, added to the generated document once: the error body every
 * 4xx/5xx carries, the statuses the pipeline answers before any route runs (401 on every route: missing
 * credentials, or ones sent in the URL; 400, 413 and 415 on routes with a body; 400 and 414 for a bad path
 * parameter; 429 on rate-limited routes; 422 where a body or a query is validated, for a query parameter a route
 * does not take, and for a `%00` in any URL; 503 while the server drains), the headers every response carries, each route's rate-limit tier, and `null` in
 * nullable enums (OpenAPI 3.0.3 validators reject a null that the enum does not list), and each route's summary.
 */
export function completeDocument(document: OpenAPIObject): OpenAPIObject {
  const components = (document.components ??= {});
  const schemas = components.schemas ?? (components.schemas = {});
  schemas[ERROR_SCHEMA] = errorSchema();
  components.headers = { ...components.headers, ...HEADERS };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (!operation) continue;
      operation.summary ??= OPERATION_SUMMARIES[`${method.toUpperCase()} ${path}`];
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'path' && !parameter.description)
          parameter.description = pathParameterDescription(path, parameter.name);
      }
      completeOperation(operation, method);
    }
  }
  for (const schema of Object.values(schemas)) listNullInEnums(schema as Schema);
  return document;
}

function completeOperation(operation: Operation, method: (typeof METHODS)[number]): void {
  const tier = (operation[RATE_TIER_EXTENSION] as string | undefined) ?? 'general';
  operation[RATE_TIER_EXTENSION] = tier;
  const { responses } = operation;
  const limited = tier !== 'none';
  if (limited)
    responses['429'] ??= {
      description: `Over the \`${tier}\` tier's limit (\`rate_limited\`); \`Retry-After\` says when to retry`,
    };
  // A node-only route (x-node-agent, users: false) answers any user credential 403: only the node's key works.
  const nodeAgent = operation['x-node-agent'] as { users?: boolean } | undefined;
  if (nodeAgent?.users === false && operation.security)
    operation.security = operation.security.filter((scheme) => 'api-key' in scheme);
  const byApiKey = operation.security?.some((scheme) => 'api-key' in scheme) ?? false;
  if (operation.security?.some((scheme) => Object.keys(scheme).length > 0))
    responses['401'] ??= {
      description:
        'No credentials, or ones that are malformed, expired, revoked or not valid here (`unauthorized`)',
    };
  // Public routes too: credentials are refused in a URL on every route, where logs and proxies would keep them.
  else
    responses['401'] ??= {
      description:
        'A credential in the URL (an API key, JWT or refresh token in a query value; `unauthorized`)',
    };
  const body = operation.requestBody;
  if (body !== undefined) narrowBodyTypes(body.content ?? {});
  if (body !== undefined) {
    responses['400'] ??= { description: 'The body is not well-formed JSON (`bad_request`)' };
    responses['413'] ??= { description: 'The body is larger than this route accepts (`payload_too_large`)' };
    const types = Object.keys(body.content ?? {}).join(', ') || 'application/json';
    responses['415'] ??= {
      description: `A body of another media type than ${types}, JSON not in UTF-8, or a body in a content coding (\`Content-Encoding: gzip\`: none is decoded; \`bad_request\`)`,
    };
  } else if (method !== 'get' && method !== 'head') {
    // Fastify reads a body sent to any other method, so one sent where none is taken is still parsed.
    responses['400'] ??= {
      description: 'This route takes no body; one sent anyway is not JSON (`bad_request`)',
    };
    responses['413'] ??= { description: 'A body larger than the server accepts (`payload_too_large`)' };
    responses['415'] ??= {
      description: 'A body of a media type other than JSON, or in a content coding (`bad_request`)',
    };
  }
  // Draining (src/common/http/connection-draining.ts) answers every request before its route runs.
  const draining = responses['503'];
  if (draining === undefined) responses['503'] = { description: SHUTTING_DOWN };
  else if (!draining.description?.includes('shutting_down'))
    draining.description = `${draining.description ?? ''}; or ${SHUTTING_DOWN.replace(/^The/, 'the')}`;
  const takesQuery = operation.parameters?.some((p) => p.in === 'query') ?? false;
  const validated = [body !== undefined && 'body', takesQuery && 'query'].filter(Boolean).join(' or ');
  responses['422'] ??= {
    description: validated
      ? `The ${validated} failed validation (\`validation_error\`; \`details\` names each field)`
      : 'A `%00` in the URL: text the database cannot store (`validation_error`)',
  };
  // UnknownInputGuard (src/common/http/unknown-input.guard.ts); probes and scrapers ignore the query.
  const unprocessable = responses['422'];
  const saysQuery = takesQuery && /\bquery\b/.test(unprocessable.description ?? '');
  if (operation[IGNORES_QUERY_EXTENSION] !== true && !saysQuery)
    unprocessable.description =
      `${unprocessable.description ?? ''}; or ` +
      (takesQuery
        ? 'a query parameter not listed here (`details` names it)'
        : 'any query parameter: this route takes none (`details` names it)');
  // The same guard: a body with fields, or not an object, where the route takes none (`{}` and null pass).
  if (body === undefined && method !== 'get' && method !== 'head')
    unprocessable.description = `${unprocessable.description ?? ''}; or a body with any field, or one that is not an object: this route takes none (\`details\` names it)`;
  // The router refuses these before any route runs (src/common/http/framework-errors.ts).
  if (operation.parameters?.some((p) => p.in === 'path')) {
    const badParameter = 'a path parameter that is not correctly percent-encoded (`bad_request`)';
    const malformed = responses['400'];
    if (malformed === undefined) responses['400'] = { description: `A${badParameter.slice(1)}` };
    else malformed.description = `${malformed.description ?? ''}; or ${badParameter}`;
    responses['414'] ??= { description: 'A path parameter longer than 100 characters (`bad_request`)' };
  }
  for (const [status, response] of Object.entries(responses)) {
    const code = Number(status);
    if (code >= 400 && response.content === undefined) {
      response.content = { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } };
    }
    const headers = ['X-Request-Id'];
    if (limited && code < 400) headers.push(...RATE_LIMIT_HEADERS);
    if (code === 401) headers.push('WWW-Authenticate');
    if (code === 429) headers.push(...RATE_LIMIT_HEADERS, 'Retry-After');
    if (code === 503 && response.description?.includes('Retry-After')) headers.push('Retry-After');
    if (byApiKey && !BEFORE_AUTHENTICATION.has(code)) headers.push(SUNSET_HEADER, REPLACED_BY_HEADER);
    response.headers ??= {};
    for (const name of headers) response.headers[name] ??= { $ref: `#/components/headers/${name}` };
  }
}

/**
 * `@ApiBody` gives every media type one schema: where that is a oneOf of bytes and JSON (a module upload), each
 * type gets its own member, so Swagger UI offers a file picker for the bytes and a JSON sample for the JSON
 * (it samples a oneOf's first member: the JSON editor showed `"string"`).
 */
function narrowBodyTypes(content: Record<string, { schema?: Schema }>): void {
  for (const [type, media] of Object.entries(content)) {
    const members = media.schema?.oneOf as Schema[] | undefined;
    if (!Array.isArray(members)) continue;
    const binary = members.filter((member) => member.format === 'binary');
    const json = members.filter((member) => member.format !== 'binary');
    if (binary.length === 0 || json.length === 0) continue;
    const kept = /[/+]json$/.test(type) ? json : binary;
    media.schema = kept.length === 1 ? kept[0] : { oneOf: kept };
  }
}

function errorSchema(): Schema {
  return {
    type: 'object',
    description:
      'Some errors add fields their route documents (`details`, `override_id`, `quota`, `limit`, `checks`): ' +
      'clients must accept more properties',
    additionalProperties: true,
    required: ['error', 'message', 'request_id'],
    properties: {
      // Listed, not an enum: a generated client with a closed enum would fail on a value added later.
      error: {
        type: 'string',
        description: `Stable code: branch on it. One of ${listed(Object.values(ErrorCode))}`,
        example: 'validation_error',
      },
      reason: {
        type: 'string',
        description:
          'A finer stable cause, where one code covers several; each route names those it answers. One of ' +
          `${listed(Object.values(ErrorReason))}; new ones may appear`,
        example: 'lease_lost',
      },
      message: { type: 'string', description: 'For people; may change' },
      request_id: { type: 'string', description: 'Also in the X-Request-Id header and the server log' },
      details: {
        type: 'array',
        description: 'validation_error: one entry per failed field',
        items: {
          type: 'object',
          properties: { field: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
  };
}

const listed = (values: readonly string[]) => values.map((value) => `\`${value}\``).join(', ');

function listNullInEnums(schema: Schema): void {
  if (Array.isArray(schema.enum) && schema.nullable === true && !schema.enum.includes(null)) {
    schema.enum = [...(schema.enum as unknown[]), null];
  }
  for (const value of Object.values(schema)) {
    if (value !== null && typeof value === 'object') listNullInEnums(value as Schema);
  }
}
