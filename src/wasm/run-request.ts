import { Injectable, PipeTransform } from '@nestjs/common';
import { AppException, FieldError } from '../common/errors/app.exception';
import { deepJsonFieldError } from '../common/validation/deep-json';
import { refuseAfterOtherParameters } from '../common/validation/pipe-order';
import { WASM_RUNTIMES, WasmConfig, WasmRuntimeName } from './wasm.config';

/** A run as WasmService takes it: every field already checked (RunRequestPipe, or the caller). */
export interface RunRequest {
  inputs: unknown;
  args?: string[];
  /** The only variables the guest sees. */
  env?: Record<string, string>;
  runtime?: WasmRuntimeName;
  timeoutMs?: number;
  deterministic?: boolean;
  /**
   * Set only by in-process callers, never from a request body: the node agent runs a leased task under the
   * server's limits for it (spec.limits), which may be below this engine's own, and stops a run the server
   * cancelled or gave to another node.
   */
  limits?: { maxMemoryBytes?: number; maxOutputBytes?: number };
  signal?: AbortSignal;
}

export const RUN_LIMITS = { maxArgs: 64, maxArgLength: 256, maxEnv: 64, maxEnvValueLength: 4096 } as const;
const OPTIONAL_RUN_FIELDS = ['args', 'env', 'runtime', 'timeout_ms', 'deterministic'] as const;
const RUN_FIELDS: readonly string[] = ['inputs', ...OPTIONAL_RUN_FIELDS];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** The body's own fields: an object, known fields only, `inputs` present. The first problem is the 422. */
function runFields(body: unknown): Record<string, unknown> {
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
  return fields;
}

function argsProblems(args: unknown): FieldError[] {
  if (args === undefined) return [];
  if (!Array.isArray(args) || args.length > RUN_LIMITS.maxArgs) {
    return [{ field: 'args', message: `must be an array of at most ${RUN_LIMITS.maxArgs} strings` }];
  }
  return args.flatMap((arg: unknown, i) =>
    // NUL would truncate the argument inside the guest's C strings: one value, two meanings.
    typeof arg !== 'string' || arg.length > RUN_LIMITS.maxArgLength || arg.includes('\0')
      ? [
          {
            field: `args[${i}]`,
            message: `must be a string of at most ${RUN_LIMITS.maxArgLength} characters without NUL`,
          },
        ]
      : [],
  );
}

function envProblems(env: unknown): FieldError[] {
  if (env === undefined) return [];
  const entries = typeof env === 'object' && env !== null && !Array.isArray(env) ? Object.entries(env) : null;
  if (!entries || entries.length > RUN_LIMITS.maxEnv) {
    return [{ field: 'env', message: `must be an object of at most ${RUN_LIMITS.maxEnv} variables` }];
  }
  return entries.flatMap(([name, value]: [string, unknown]) =>
    !ENV_NAME.test(name) ||
    typeof value !== 'string' ||
    value.length > RUN_LIMITS.maxEnvValueLength ||
    value.includes('\0')
      ? [{ field: `env.${name.slice(0, 64)}`, message: 'must be NAME=string (no NUL, bounded length)' }]
      : [],
  );
}

/**
 * The body of `POST /modules/:id/run` as a RunRequest, or a 422: the shape first (one problem), then every
 * value, each problem named with its field (`inputs` by the deep-JSON rule and path). `maxTimeoutMs` is
 * WASM_TIMEOUT_SECS. Whether the chosen runtime can honour the request is WasmService's to say.
 */
export function parseRunRequest(body: unknown, maxTimeoutMs: number): RunRequest {
  const fields = runFields(body);
  const { inputs } = fields;
  // Every optional field sent as null is the field left out (generated clients send one for each field unset).
  const [args, env, runtime, timeoutMs, deterministic] = OPTIONAL_RUN_FIELDS.map(
    (key) => fields[key] ?? undefined,
  );
  const problems: FieldError[] = [];
  const inputsProblem = deepJsonFieldError(inputs, 'inputs');
  if (inputsProblem) problems.push(inputsProblem);
  problems.push(...argsProblems(args), ...envProblems(env));
  const wholeMs = typeof timeoutMs === 'number' && Number.isInteger(timeoutMs);
  if (timeoutMs !== undefined && !(wholeMs && timeoutMs >= 1 && timeoutMs <= maxTimeoutMs)) {
    problems.push({
      field: 'timeout_ms',
      message: `must be a whole number from 1 to ${maxTimeoutMs} (WASM_TIMEOUT_SECS)`,
    });
  }
  if (runtime !== undefined && !WASM_RUNTIMES.includes(runtime as WasmRuntimeName)) {
    problems.push({ field: 'runtime', message: `must be one of ${WASM_RUNTIMES.join(', ')}` });
  }
  if (deterministic !== undefined && typeof deterministic !== 'boolean') {
    problems.push({ field: 'deterministic', message: 'must be a boolean' });
  }
  if (problems.length > 0) throw AppException.validation(problems);
  return {
    inputs,
    args: args as string[] | undefined,
    env: env as Record<string, string> | undefined,
    runtime: runtime as WasmRuntimeName | undefined,
    timeoutMs: timeoutMs as number | undefined,
    deterministic: deterministic as boolean | undefined,
  };
}

/**
 * The run route's body. It arrives through @RawJsonBody and typed `unknown`, so the global ValidationPipe
 * leaves it alone (class-transformer would copy it, `__proto__` keys included); this pipe reads it as parsed.
 */
@Injectable()
export class RunRequestPipe implements PipeTransform<unknown, Promise<RunRequest>> {
  constructor(private readonly config: WasmConfig) {}

  async transform(body: unknown): Promise<RunRequest> {
    try {
      return parseRunRequest(body, this.config.timeoutMs);
    } catch (error) {
      // A malformed module id (ModuleIdParams) is still the 422 it was when the handler read the body.
      return refuseAfterOtherParameters(error);
    }
  }
}
