import type { Json, OpenApiDocument } from './openapi';

/** What Swagger UI puts in a request body's editor and its parameters' fields when "Try it out" is clicked. */
export interface TryItOut {
  method: string;
  path: string;
  operation: Json;
  /** Path, query and header values that Swagger UI fills in (an example, or a default). */
  parameters: { name: string; in: string; value: Scalar | undefined; required: boolean }[];
  /** One JSON body per example the operation offers (Swagger UI's own sample when it offers none). */
  bodies: { label: string; body: unknown }[];
}

/** A parameter's value: path, query and header values are text, numbers or booleans. */
type Scalar = string | number | boolean;

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

interface Sampler {
  getSampleSchema(schema: Json, contentType: string, config: Json): string;
}

/**
 * Swagger UI's own sample generator (swagger-ui-dist, the bundle the app serves), so the bodies checked are the
 * ones a person sees. Its boot logs a missing `window` (it would persist its settings there): harmless here.
 */
export function swaggerUiSampler(): Sampler {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SwaggerUIBundle } = require('swagger-ui-dist') as {
    SwaggerUIBundle: (options: Json) => { fn: Sampler };
  };
  const quiet = console.error;
  console.error = () => undefined;
  try {
    const empty = { openapi: '3.0.3', info: { title: 'samples', version: '1' }, paths: {} };
    return SwaggerUIBundle({ spec: empty }).fn;
  } finally {
    console.error = quiet;
  }
}

/** `$ref`s to components inlined, as Swagger UI resolves them before sampling. */
export function resolveRefs(doc: OpenApiDocument, value: unknown, seen: string[] = []): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveRefs(doc, item, seen));
  if (value === null || typeof value !== 'object') return value;
  const ref = (value as Json).$ref;
  if (typeof ref === 'string') {
    const [, section, name] = ref.replace(/^#\//, '').split('/');
    if (seen.includes(ref)) return {};
    const components = doc.components as unknown as Record<string, Record<string, unknown>>;
    return resolveRefs(doc, components[section][name], [...seen, ref]);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(doc, v, seen)]));
}

function parameterValue(parameter: Json): Scalar | undefined {
  const schema = (parameter.schema ?? {}) as Json;
  if (parameter.example !== undefined) return parameter.example as Scalar;
  const examples = parameter.examples as Record<string, { value: Scalar }> | undefined;
  if (examples) return Object.values(examples)[0]?.value;
  if (schema.example !== undefined) return schema.example as Scalar;
  return schema.default as Scalar | undefined;
}

/** Every operation as Swagger UI offers it to "Try it out". */
export function tryItOuts(doc: OpenApiDocument, sampler: Sampler): TryItOut[] {
  const all: TryItOut[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const operation = resolveRefs(doc, item[method]) as Json | undefined;
      if (!operation) continue;
      const parameters = ((operation.parameters ?? []) as Json[]).map((p) => ({
        name: p.name as string,
        in: p.in as string,
        value: parameterValue(p),
        required: p.required === true,
      }));
      const bodies: TryItOut['bodies'] = [];
      const json = (operation.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
      const media = json?.['application/json'];
      if (media?.examples)
        for (const [label, example] of Object.entries(media.examples as Record<string, Json>))
          bodies.push({ label, body: example.value });
      else if (media?.example !== undefined) bodies.push({ label: 'example', body: media.example });
      else if (media?.schema) {
        const text = sampler.getSampleSchema(media.schema as Json, 'application/json', {
          includeWriteOnly: true,
        });
        bodies.push({ label: 'sample', body: JSON.parse(text) });
      }
      all.push({ method: method.toUpperCase(), path, operation, parameters, bodies });
    }
  }
  return all;
}
