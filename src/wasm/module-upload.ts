import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import type { BodyLimitContext } from '../common/http/body-limit';
import { WasmConfig } from './wasm.config';

const base64Chars = (bytes: number) => Math.ceil(bytes / 3) * 4;
// Room for the JSON around the base64 text: `{"wasm_module": "…"}` and some whitespace.
const JSON_ENVELOPE_CHARS = 1024;

/**
 * The upload route's body limit: a module at WASM_MAX_MODULE_BYTES in base64 inside its JSON envelope, never
 * below BODY_LIMIT_BYTES. A bigger body is refused by Fastify before it is read; a smaller one holding a
 * module over the cap (raw, or base64 that decodes to more) is refused here or by the store. Both are 413.
 */
export function moduleUploadBodyLimit({ get, defaultLimit }: BodyLimitContext): number {
  return Math.max(base64Chars(get(WasmConfig).maxModuleBytes) + JSON_ENVELOPE_CHARS, defaultLimit);
}

/**
 * POST /tasks's body limit: a module at WASM_MAX_MODULE_BYTES in base64 (`wasm_module`) beside the rest of a task
 * body, which may take BODY_LIMIT_BYTES on its own (its inputs). With the upload's limit (1 KiB beside the
 * module) a task carrying a module near its cap and a few KiB of inputs was a 413.
 */
export function taskBodyLimit({ get, defaultLimit }: BodyLimitContext): number {
  return base64Chars(get(WasmConfig).maxModuleBytes) + defaultLimit;
}

const invalid = (message: string, field = 'wasm_module') =>
  AppException.validation([{ field, message }], `${field} ${message}`);

const tooLarge = () =>
  new AppException(ErrorCode.PayloadTooLarge, 'Module is larger than WASM_MAX_MODULE_BYTES');

/**
 * The module bytes of an upload: an `application/wasm` body (a Buffer from its parser) or JSON
 * `{"wasm_module": "<standard base64>"}`. The base64 length is checked against the cap before anything is
 * decoded, and the text must be canonical base64 (Buffer.from skips characters it does not know, so a
 * lenient decode would accept text that is not what the client meant).
 */
export function moduleBytesOf(body: unknown, maxModuleBytes: number): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid('is required: send the module as application/wasm, or JSON {"wasm_module": base64}');
  }
  const extra = Object.keys(body).find((key) => key !== 'wasm_module');
  if (extra !== undefined) throw invalid('is not an allowed field', extra.slice(0, 64));
  const text = (body as { wasm_module?: unknown }).wasm_module;
  if (typeof text !== 'string') throw invalid('must be a base64 string');
  if (text.length > base64Chars(maxModuleBytes)) throw tooLarge();
  const bytes = Buffer.from(text, 'base64');
  if (bytes.toString('base64') !== text) throw invalid('must be standard base64 with padding');
  return bytes;
}
