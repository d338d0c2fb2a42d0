import { getMetadataStorage } from 'class-validator';
import { WasmConfig } from '../../src/wasm/wasm.config';
import { bearer } from '../support/auth';
import { useOpenApiDocument, Json } from '../support/openapi';
import { expect422 } from '../support/validation';

interface Rule {
  name?: string;
  propertyName: string;
  constraints?: unknown[];
  each?: boolean;
}

/** A class-validator rule and what the document must state for it (undefined: nothing to state). */
const STATED: Record<string, (constraints: unknown[]) => Json> = {
  maxLength: ([n]) => ({ maxLength: n }),
  minLength: ([n]) => ({ minLength: n }),
  max: ([n]) => ({ maximum: n }),
  min: ([n]) => ({ minimum: n }),
  arrayMinSize: ([n]) => ({ minItems: n }),
  arrayMaxSize: ([n]) => ({ maxItems: n }),
  arrayUnique: () => ({ uniqueItems: true }),
  isEmail: () => ({ format: 'email' }),
};

/**
 * Bounds in the OpenAPI document: a client generated from it must be able to foresee the server's 422s, so
 * every bound a body DTO's validator enforces is stated in its schema, with the same value.
 */
describe('the OpenAPI document’s bounds', () => {
  const openapi = useOpenApiDocument();

  it('states every length, range, item-count, uniqueness and email rule a body DTO enforces', () => {
    const storage = getMetadataStorage() as unknown as { validationMetadatas: Map<new () => object, Rule[]> };
    const missing: string[] = [];
    let checked = 0;
    for (const [target, rules] of storage.validationMetadatas) {
      const schema = openapi.doc.components.schemas[target.name] as
        { properties?: Record<string, Json> } | undefined;
      // Only body DTOs the document has (query DTOs become parameters; the *Variables classes are no DTOs).
      if (!schema || !Reflect.hasMetadata('swagger/apiModelPropertiesArray', target.prototype)) continue;
      for (const rule of rules) {
        const stated = rule.name === undefined ? undefined : STATED[rule.name];
        if (!stated || rule.each) continue;
        const property = schema.properties?.[rule.propertyName] ?? {};
        for (const [key, value] of Object.entries(stated(rule.constraints ?? []))) {
          checked++;
          if (property[key] !== value) {
            missing.push(`${target.name}.${rule.propertyName}: ${key} ${JSON.stringify(value)}`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
    expect(missing).toEqual([]);
    // Inherited rules are stated in the subclass's schema too (the walk above reads each rule's own class).
    const email = (openapi.doc.components.schemas.CreateUserDto.properties as Record<string, Json>).email;
    expect(email).toMatchObject({ format: 'email', maxLength: 254 });
  });

  it('states the configured cap of a run’s timeout_ms (WASM_TIMEOUT_SECS), which the server enforces', async () => {
    const cap = openapi.ctx.app.get(WasmConfig, { strict: false }).timeoutMs;
    const body = openapi.operation('/api/v1/modules/{module_id}/run', 'post').requestBody as {
      content: Record<string, { schema: { $ref: string } }>;
    };
    const name = body.content['application/json'].schema.$ref.split('/').pop() as string;
    const schema = openapi.doc.components.schemas[name].properties as Record<string, Json>;
    expect(schema.timeout_ms).toMatchObject({ type: 'integer', minimum: 1, maximum: cap });
    // The body is checked before the module is looked up: the cap passes (then 404), one more is the 422.
    const run = (timeout: number) =>
      openapi.ctx.app.inject({
        method: 'POST',
        url: `/api/v1/modules/${'0'.repeat(64)}/run`,
        headers: bearer(openapi.alice.accessToken),
        payload: { inputs: null, timeout_ms: timeout },
      });
    expect((await run(cap)).statusCode).toBe(404);
    expect422(await run(cap + 1), 'timeout_ms');
  });
});
