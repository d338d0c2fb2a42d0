import { AdminAppContext, useAdminApp } from './admin';
import { newSession, Session } from './auth';

export type Json = Record<string, unknown>;

export interface Operation {
  requestBody?: Json;
  responses: Record<string, { content?: Record<string, { schema?: Json }>; headers?: Json }>;
  [key: string]: unknown;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

export interface OpenApiContext {
  /** With an admin, for the examples that need one first (a circuit's registration). */
  ctx: AdminAppContext;
  /** /api-docs/openapi.json as a client reads it (set in beforeAll). */
  doc: OpenApiDocument;
  /** A user, for the specs that also call the routes they read about (set in beforeAll). */
  alice: Session;
  operation(path: string, method: string): Operation;
}

/** An app on PGlite, its OpenAPI document and one user, for the specs that check the document. */
export function useOpenApiDocument(): OpenApiContext {
  const ctx = useAdminApp({ database: 'pglite' });
  const context = {
    ctx,
    operation: (path: string, method: string) => context.doc.paths[path][method],
  } as OpenApiContext;
  beforeAll(async () => {
    context.doc = (await ctx.app.inject({ method: 'GET', url: '/api-docs/openapi.json' })).json();
    context.alice = await newSession(ctx.app, 'alice');
  });
  return context;
}
