import type { OpenAPIObject } from '@nestjs/swagger';
import { RATE_TIER_EXTENSION } from '../common/auth/rate-tier.decorator';

type Schema = Record<string, unknown>;
interface Operation {
  parameters?: { in: string }[];
  requestBody?: unknown;
  responses: Record<string, { description?: string; content?: unknown }>;
  [extension: `x-${string}`]: unknown;
}

const ERROR_SCHEMA = 'ErrorResponse';
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/**
 * What the decorators cannot say route by route, added to the generated document once: the error body every
 * 4xx/5xx carries, the 429 of every rate-limited route and the 422 of every route that validates a body or a
 * query, each route's rate-limit tier, and `null` in nullable enums (OpenAPI 3.0.3 validators reject a null
 * that the enum does not list).
 */
export function completeDocument(document: OpenAPIObject): OpenAPIObject {
  const schemas = (document.components ??= {}).schemas ?? (document.components.schemas = {});
  schemas[ERROR_SCHEMA] = errorSchema();
  for (const item of Object.values(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method] as Operation | undefined;
      if (operation) completeOperation(operation);
    }
  }
  for (const schema of Object.values(schemas)) listNullInEnums(schema as Schema);
  return document;
}

function completeOperation(operation: Operation): void {
  const tier = (operation[RATE_TIER_EXTENSION] as string | undefined) ?? 'general';
  operation[RATE_TIER_EXTENSION] = tier;
  const { responses } = operation;
  if (tier !== 'none')
    responses['429'] ??= {
      description: `Over the \`${tier}\` tier's limit (\`rate_limited\`); \`Retry-After\` says when to retry`,
    };
  const validatesInput =
    operation.requestBody !== undefined || operation.parameters?.some((p) => p.in === 'query');
  if (validatesInput)
    responses['422'] ??= {
      description: 'The body or query failed validation (`validation_error`; `details` names each field)',
    };
  for (const [status, response] of Object.entries(responses)) {
    if (Number(status) >= 400 && response.content === undefined) {
      response.content = { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } };
    }
  }
}

function errorSchema(): Schema {
  return {
    type: 'object',
    description:
      'Some errors add fields their route documents (`details`, `override_id`, `quota`, `checks`): ' +
      'clients must accept more properties',
    additionalProperties: true,
    required: ['error', 'message', 'request_id'],
    properties: {
      error: {
        type: 'string',
        description: 'Stable code: branch on it',
        example: 'validation_error',
      },
      reason: { type: 'string', description: 'A finer stable cause, where one code covers several' },
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

function listNullInEnums(schema: Schema): void {
  if (Array.isArray(schema.enum) && schema.nullable === true && !schema.enum.includes(null)) {
    schema.enum = [...(schema.enum as unknown[]), null];
  }
  for (const value of Object.values(schema)) {
    if (value !== null && typeof value === 'object') listNullInEnums(value as Schema);
  }
}
