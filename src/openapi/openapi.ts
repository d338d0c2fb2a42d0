import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyAuthService } from '../api-keys/api-key-auth.service';
import { CREDENTIAL_IN_URL_MESSAGE, queryValueHoldsCredential } from '../common/auth/credentials-in-url';
import { requestMetaOf } from '../common/auth/request-context.decorator';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { WasmConfig } from '../wasm/wasm.config';
import { completeDocument } from './document-fixes';

export const OPENAPI_JSON_PATH = '/api-docs/openapi.json';
export const SWAGGER_UI_PATH = '/swagger-ui';

export function buildOpenApiDocument(app: NestFastifyApplication, version: string): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('VCP — verifiable compute control plane')
    .setDescription(
      'Register nodes, submit WebAssembly and zero-knowledge tasks, and get verified results. ' +
        'Errors are JSON `{error, message, request_id}` with a stable `error` code.',
    )
    .setVersion(version)
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'The `access_token` that `POST /api/v1/auth/login` returns (paste the token alone, without `Bearer`)',
      },
      'bearer',
    )
    .addApiKey(
      {
        type: 'apiKey',
        in: 'header',
        name: 'X-API-Key',
        description:
          'A user API key: the `api_key` `POST /api/v1/auth/register` returns, or one from `POST /api/v1/api-keys`. ' +
          "Or a node key (`node_api_key` from `POST /api/v1/nodes`), valid only on its own node's routes that " +
          'carry `x-node-agent`',
      },
      'api-key',
    )
    .build();
  const document = completeDocument(SwaggerModule.createDocument(app, builder));
  stateConfiguredBounds(document, app.get(WasmConfig, { strict: false }));
  return document;
}

/** The bounds set by configuration, which no decorator can know: a run's timeout_ms is capped at WASM_TIMEOUT_SECS. */
function stateConfiguredBounds(document: OpenAPIObject, wasm: WasmConfig): void {
  const run = document.components?.schemas?.RunModuleRequestDto as
    { properties?: Record<string, Record<string, unknown>> } | undefined;
  const timeout = run?.properties?.timeout_ms;
  if (timeout) timeout.maximum = wasm.timeoutMs;
}

/**
 * Serves the OpenAPI document and our own Swagger UI page. Nest's built-in page carries inline styles that a
 * strict CSP blocks, so the page here is static HTML plus an external init script over swagger-ui-dist's
 * files, all served by the app itself (no CDN).
 */
export async function registerOpenApi(app: NestFastifyApplication, version: string): Promise<void> {
  const document = buildOpenApiDocument(app, version);
  const documentJson = JSON.stringify(document);
  const assets = join(__dirname, 'assets');
  const page = readFileSync(join(assets, 'swagger-ui.html'));
  const initScript = readFileSync(join(assets, 'swagger-init.js'));
  const fastify = app.getHttpAdapter().getInstance();
  const apiKeys = app.get(ApiKeyAuthService, { strict: false });

  await app.register(async (docs: FastifyInstance) => {
    // These routes exist before Nest sets its error handler (at init), and a route keeps the handler of its
    // registration: this one hands errors to whichever is in force, so they answer the API's error body.
    docs.setErrorHandler((error, request, reply) =>
      fastify.errorHandler.call(fastify, error, request, reply),
    );
    // Fastify's routes, not Nest's: AuthenticationGuard never sees them, so its credential-in-URL rule is here.
    docs.addHook(
      'onRequest',
      (request: FastifyRequest, _reply: FastifyReply, done: (error?: Error) => void) => {
        if (!queryValueHoldsCredential(request.query)) return done();
        apiKeys.recordFailure('query_string', requestMetaOf(request));
        done(new AppException(ErrorCode.Unauthorized, CREDENTIAL_IN_URL_MESSAGE));
      },
    );
    docs.get(OPENAPI_JSON_PATH, (_request, reply) => {
      void reply.type('application/json; charset=utf-8').send(documentJson);
    });
    // With ignoreTrailingSlash this also answers /swagger-ui/.
    docs.get(SWAGGER_UI_PATH, (_request, reply) => {
      void reply.type('text/html; charset=utf-8').send(page);
    });
    docs.get(`${SWAGGER_UI_PATH}/vcp-swagger-init.js`, (_request, reply) => {
      void reply
        .type('text/javascript; charset=utf-8')
        .header('cache-control', 'public, max-age=300')
        .send(initScript);
    });
    await docs.register(fastifyStatic, {
      root: dirname(require.resolve('swagger-ui-dist/package.json')),
      prefix: `${SWAGGER_UI_PATH}/`,
      index: false,
      decorateReply: false,
      // Only the files the page needs; the rest of the package (its own index.html, source maps) stays unserved.
      allowedPath: (pathName: string) =>
        ['/swagger-ui.css', '/swagger-ui-bundle.js', '/favicon-32x32.png', '/favicon-16x16.png'].includes(
          pathName,
        ),
      maxAge: 3600 * 1000,
    });
  });
}
