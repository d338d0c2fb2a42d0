import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import Ajv, { ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Json, OpenApiDocument } from './openapi';

/** One answer the app gave during a test, with the documented operation it belongs to. */
export interface RecordedResponse {
  method: string;
  url: string;
  /** The document's path template (`/api/v1/tasks/{task_id}`), or undefined for a route it does not list. */
  template: string | undefined;
  status: number;
  contentType: string;
  /** Response headers, names in lower case. */
  headers: Record<string, string | undefined>;
  body: string;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** The document's operations, as `METHOD /path/{param}` keys. */
export function operationsOf(doc: OpenApiDocument): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((method) => METHODS.includes(method))
      .map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/** Finds the documented path a URL hits; a literal segment wins over a parameter, as in the router. */
export function templateMatcher(doc: OpenApiDocument): (pathname: string) => string | undefined {
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    segments: template.split('/'),
  }));
  return (pathname) => {
    const parts = pathname.split('/');
    const matches = templates.filter(
      ({ segments }) =>
        segments.length === parts.length &&
        segments.every((segment, i) => segment.startsWith('{') || segment === parts[i]),
    );
    const literals = (segments: string[]) => segments.filter((s) => !s.startsWith('{')).length;
    matches.sort((a, b) => literals(b.segments) - literals(a.segments));
    return matches[0]?.template;
  };
}

/**
 * Records every answer `app.inject` gives from now on (the helpers in test/support all call it), so a tour of
 * the API can be checked against the document afterwards.
 */
export function recordResponses(app: NestFastifyApplication, doc: OpenApiDocument): RecordedResponse[] {
  const recorded: RecordedResponse[] = [];
  const match = templateMatcher(doc);
  const inject = app.inject.bind(app) as (options: { method?: string; url: string }) => Promise<{
    statusCode: number;
    headers: Record<string, string | undefined>;
    body: string;
  }>;
  const recording = async (options: { method?: string; url: string }) => {
    const res = await inject(options);
    recorded.push({
      method: (options.method ?? 'GET').toUpperCase(),
      url: options.url,
      template: match(options.url.split('?')[0]),
      status: res.statusCode,
      contentType: res.headers['content-type'] ?? '',
      headers: res.headers,
      body: res.body,
    });
    return res;
  };
  Object.assign(app, { inject: recording });
  return recorded;
}

/**
 * An OpenAPI 3.0 schema as JSON Schema for Ajv: `nullable: true` becomes "or null", and references to
 * `#/components/schemas/X` point at the components schema registered under `components`.
 */
function toJsonSchema(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toJsonSchema);
  if (value === null || typeof value !== 'object') return value;
  const schema: Json = {};
  for (const [key, inner] of Object.entries(value as Json)) {
    if (key === '$ref' && typeof inner === 'string')
      schema.$ref = inner.replace('#/components/schemas/', 'components#/definitions/');
    // Names of properties are data, not keywords: keep them as they are.
    else if (key === 'properties' && inner !== null && typeof inner === 'object')
      schema.properties = Object.fromEntries(
        Object.entries(inner as Json).map(([name, property]) => [name, toJsonSchema(property)]),
      );
    else if (key !== 'nullable' && key !== 'example' && key !== 'examples') schema[key] = toJsonSchema(inner);
  }
  if ((value as Json).nullable === true) return { anyOf: [schema, { type: 'null' }] };
  return schema;
}

/** What a response fails of the document: undefined when it conforms. */
export type ConformanceCheck = (response: RecordedResponse) => string | undefined;

/** Checks recorded responses against the operation and status the document declares for them. */
export function conformanceChecker(doc: OpenApiDocument): ConformanceCheck {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({
    $id: 'components',
    definitions: Object.fromEntries(
      Object.entries(doc.components.schemas).map(([name, schema]) => [name, toJsonSchema(schema)]),
    ),
  });
  const compiled = new Map<string, ValidateFunction>();
  const validatorFor = (key: string, schema: Json) => {
    let validate = compiled.get(key);
    if (!validate) {
      validate = ajv.compile(toJsonSchema(schema) as Json);
      compiled.set(key, validate);
    }
    return validate;
  };
  const headerComponents = (doc.components as { headers?: Record<string, Json> }).headers ?? {};
  /** A documented header the response sends must hold a value of its schema; a required one must be sent. */
  const headerProblems = (documented: Json | undefined, response: RecordedResponse) =>
    Object.entries(documented ?? {}).flatMap(([name, declared]) => {
      const ref = (declared as Json).$ref;
      const header = typeof ref === 'string' ? headerComponents[ref.split('/').pop()!] : (declared as Json);
      const value = response.headers[name.toLowerCase()];
      if (value === undefined) return header.required === true ? [`header ${name} missing`] : [];
      const schema = header.schema as Json | undefined;
      if (!schema) return [];
      const numeric = schema.type === 'integer' || schema.type === 'number';
      const validate = validatorFor(`header ${name}`, schema);
      return validate(numeric && value !== '' ? Number(value) : value) ? [] : [`header ${name}: ${value}`];
    });
  return (response) => {
    const where = `${response.method} ${response.template} → ${response.status}`;
    const operation = doc.paths[response.template!]?.[response.method.toLowerCase()];
    if (!operation) return `${where}: the document has no such operation`;
    const documented = operation.responses[String(response.status)] ?? operation.responses.default;
    if (!documented)
      return `${where}: status not documented (documents ${Object.keys(operation.responses).join(', ')})`;
    const badHeaders = headerProblems(documented.headers, response);
    if (badHeaders.length > 0) return `${where}: ${badHeaders.join('; ')}`;
    const mediaType = response.contentType.split(';')[0].trim();
    const content = documented.content;
    if (!content) {
      if (response.body === '') return undefined;
      return `${where}: documents no body but answered ${mediaType} ${response.body.slice(0, 200)}`;
    }
    if (!(mediaType in content))
      return `${where}: answered ${mediaType || 'no content type'}, documents ${Object.keys(content).join(', ')}`;
    const schema = content[mediaType].schema;
    // Streams and files: the status and media type are what a client can check.
    if (mediaType !== 'application/json' || !schema) return undefined;
    const validate = validatorFor(`${response.method} ${response.template} ${response.status}`, schema);
    if (validate(JSON.parse(response.body))) return undefined;
    const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
    return `${where}: ${[...new Set(errors)].join('; ')} in ${response.body.slice(0, 300)}`;
  };
}
