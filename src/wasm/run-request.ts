import { AppException } from '../common/errors/app.exception';
import type { WasmRuntimeName } from '../config/environment';
import type { RunRequest } from './wasm.service';

const RUN_FIELDS = ['inputs', 'args', 'env', 'runtime', 'timeout_ms', 'deterministic'];

/**
 * The body of `POST /modules/:id/run` as a RunRequest. Only the shape is checked here (an object, known
 * fields, `inputs` present); every value, `inputs` included (deep-JSON limits), is checked by
 * WasmService.run, which names the field and the rule in its 422.
 */
export function parseRunRequest(body: unknown): RunRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body)) {
    throw AppException.validation([{ field: 'body', message: 'must be a JSON object' }]);
  }
  const fields = body as Record<string, unknown>;
  // Own keys only: the body comes from @RawJsonBody, so a `__proto__` key is an own property, and refused here.
  const extra = Object.keys(fields).find((key) => !RUN_FIELDS.includes(key));
  if (extra !== undefined) {
    throw AppException.validation([{ field: extra.slice(0, 64), message: 'is not an allowed field' }]);
  }
  if (!Object.hasOwn(fields, 'inputs')) {
    throw AppException.validation([
      { field: 'inputs', message: 'is required (any JSON value, null included)' },
    ]);
  }
  return {
    inputs: fields.inputs,
    args: fields.args as string[] | undefined,
    env: fields.env as Record<string, string> | undefined,
    runtime: fields.runtime as WasmRuntimeName | undefined,
    timeoutMs: fields.timeout_ms as number | undefined,
    deterministic: fields.deterministic as boolean | undefined,
  };
}
