import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest, RawServerDefault } from 'fastify';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { UNSUPPORTED_MEDIA_TYPE } from '../errors/unsupported-media-type';
import { findTooDeepJson } from '../validation/json-depth';
import { invalidUtf8Offset } from '../validation/utf8';
import { mayNamePrototype, prototypePoisoningError } from '../validation/poisoned-key';
import {
  findUnstorableText,
  mayHoldUnstorableText,
  UNSTORABLE_TEXT_MESSAGE,
} from '../validation/unstorable-text';
import { addRouteConfig } from './route-config';

/** No JSON body of the API nests deeper than this; the run route's `inputs` are held to 16 below it. */
export const MAX_JSON_BODY_DEPTH = 64;

const RAW_JSON_KEY = 'vcpRawJsonBody';

/**
 * The route's JSON body reaches the handler as JSON.parse made it, with keys named `__proto__` or
 * `constructor` kept as ordinary own properties instead of the whole body being refused as 400, so that the
 * handler's deep-JSON check can answer 422 naming the rule and the path. The handler must take the body as
 * an untyped value (the global ValidationPipe then leaves it alone: class-transformer would copy such a key
 * with an assignment, i.e. set a prototype) and must run findDeepJsonViolation before using it.
 */
export function RawJsonBody(): MethodDecorator {
  return addRouteConfig({ [RAW_JSON_KEY]: true });
}

/** The charset parameter of a Content-Type, lowercased, or null. */
function charsetOf(contentType: string | undefined): string | null {
  const match = contentType?.match(/;\s*charset\s*=\s*"?([^";\s]+)"?/i);
  return match ? match[1].toLowerCase() : null;
}

const CODING_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;

/**
 * A 415 for a body in a content coding (gzip, br…): the server takes bodies as sent, decoding none, so such a
 * body would be read as garbled JSON (RFC 9110 §15.5.16; `Accept-Encoding: identity` says which it takes).
 */
function contentCodingRefusal(request: FastifyRequest): AppException | null {
  const header = request.headers['content-encoding'];
  const codings = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '' && coding !== 'identity');
  if (codings.length === 0) return null;
  // Named only when it is a plain token: the message must not echo arbitrary header text.
  const named = CODING_TOKEN.test(codings[0]) ? codings[0] : 'a content coding';
  const message = `The body is encoded (Content-Encoding: ${named}); the server takes bodies unencoded only`;
  const refusal = new AppException(ErrorCode.BadRequest, message, { status: 415 });
  refusal.headers['Accept-Encoding'] = 'identity';
  return refusal;
}

/** Whether the request's route set `key` in its config (RawJsonBody, AcceptsNulInBody). */
function routeFlag(request: FastifyRequest, key: string): boolean {
  return (request.routeOptions.config as unknown as Record<string, unknown>)[key] === true;
}

const ACCEPTS_NUL_KEY = 'vcpAcceptsNul';

/**
 * The route's JSON body may hold U+0000, which the parser otherwise refuses (422): for a route that handles
 * NUL itself and stores none of it (login: a NUL in a username is a failed, audited attempt, pinned by the
 * hostile-input tests). Unpaired surrogates are still refused.
 */
export function AcceptsNulInBody(): MethodDecorator {
  return addRouteConfig({ [ACCEPTS_NUL_KEY]: true });
}

const ACCEPTS_WASM_KEY = 'vcpAcceptsWasm';

/** The route takes an `application/wasm` body (module uploads); every other route answers such a body 415. */
export function AcceptsWasmBody(): MethodDecorator {
  return addRouteConfig({ [ACCEPTS_WASM_KEY]: true });
}

/**
 * The API's body parsers, in place of the ones Nest registers at `init()`:
 * - `application/json`: Fastify's own parser (empty → 400, invalid → 400, prototype poisoning → 400 naming the
 *   key; bytes that are not UTF-8 → 400 naming the offset, never decoded as U+FFFD), after a
 *   depth check without parsing: a body nested deeper than MAX_JSON_BODY_DEPTH is a 422 `max_depth` naming
 *   the path. JSON.parse is iterative but slow on deep nesting, and class-transformer (the global
 *   ValidationPipe) recurses and overflows the stack at a few thousand levels: before this check, a
 *   5 000-deep object in any DTO field was a 500. A string or key PostgreSQL cannot store (an unpaired
 *   surrogate escape, a NUL) is a 422 too (see unstorable-text.ts).
 * - `application/wasm`: the raw bytes, as a Buffer, on the routes marked AcceptsWasmBody (module uploads); on
 *   any other route a 415, as for any type the API does not take, not a validation error about a Buffer.
 * Nest's `application/x-www-form-urlencoded` parser is not registered, and Fastify's own `text/plain` one is
 * removed: the API takes JSON, so a form post or a plain-text body (both of which a browser sends cross-site
 * without a preflight; `fetch` sends a string body as text/plain unless told otherwise) is a 415 saying so, as
 * the OpenAPI document promises, not a 422 listing every field as missing.
 * A body in a content coding (`Content-Encoding: gzip`) is a 415 on either: none is decoded.
 * Body limits stay Fastify's: BODY_LIMIT_BYTES, or the route's own `@BodyLimit`.
 */
export function registerBodyParsers(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const { bodyLimit, onProtoPoisoning, onConstructorPoisoning } = fastify.initialConfig;
  const strict = fastify.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error');
  const keepKeys = fastify.getDefaultJsonParser('ignore', 'ignore');
  if (fastify.hasContentTypeParser('text/plain')) fastify.removeContentTypeParser('text/plain');

  app.useBodyParser<RawServerDefault>('application/json', { bodyLimit }, (request, body, done) => {
    const encoded = contentCodingRefusal(request);
    if (encoded) return done(encoded, undefined);
    // JSON is UTF-8 (RFC 8259); a body declared in another charset would be read wrongly, not converted.
    const charset = charsetOf(request.headers['content-type']);
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      const message = `The JSON body must be UTF-8, not ${charset}`;
      done(new AppException(ErrorCode.BadRequest, message, { status: 415 }), undefined);
      return;
    }
    const badByte = invalidUtf8Offset(body);
    if (badByte !== null) {
      const message = `The JSON body is not valid UTF-8 (byte ${badByte} begins no UTF-8 character)`;
      done(new AppException(ErrorCode.BadRequest, message), undefined);
      return;
    }
    const text = body.toString('utf8');
    const tooDeep = findTooDeepJson(text, MAX_JSON_BODY_DEPTH);
    if (tooDeep !== null) {
      const message = `max_depth: nesting is deeper than ${MAX_JSON_BODY_DEPTH} levels`;
      done(AppException.validation([{ field: tooDeep || 'body', message }]), undefined);
      return;
    }
    const parse = routeFlag(request, RAW_JSON_KEY) ? keepKeys : strict;
    const answer: typeof done =
      parse === strict && mayNamePrototype(text)
        ? (error, parsed) => done(error ? (prototypePoisoningError(text) ?? error) : null, parsed)
        : done;
    if (!mayHoldUnstorableText(text)) {
      // Fastify's default parser answers through `done`, synchronously; it returns nothing to wait for.
      void parse(request, text, answer);
      return;
    }
    void parse(request, text, (error, parsed) => {
      const at = error ? null : findUnstorableText(parsed, routeFlag(request, ACCEPTS_NUL_KEY));
      if (at === null) return answer(error, parsed);
      done(AppException.validation([{ field: at, message: UNSTORABLE_TEXT_MESSAGE }]), undefined);
    });
  });
  app.useBodyParser<RawServerDefault>('application/wasm', { bodyLimit }, (request, body, done) => {
    const encoded = contentCodingRefusal(request);
    if (encoded) done(encoded, undefined);
    else if (routeFlag(request, ACCEPTS_WASM_KEY)) done(null, body);
    else done(new AppException(ErrorCode.BadRequest, UNSUPPORTED_MEDIA_TYPE, { status: 415 }), undefined);
  });
}
