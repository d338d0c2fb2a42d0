import { AppException, FieldError } from '../common/errors/app.exception';
import { parseRunRequest } from './run-request';

const CAP_MS = 5000;

function refusal(body: unknown): FieldError[] {
  try {
    parseRunRequest(body, CAP_MS);
  } catch (error) {
    if (!(error instanceof AppException)) throw error;
    return error.extra.details as FieldError[];
  }
  throw new Error('accepted');
}

const refusedField = (body: unknown) => refusal(body)[0].field;

describe('parseRunRequest', () => {
  it('maps the body to a RunRequest, values untouched', () => {
    expect(
      parseRunRequest(
        {
          inputs: { a: 1 },
          args: ['x'],
          env: { A: 'b' },
          runtime: 'v8',
          timeout_ms: 100,
          deterministic: true,
        },
        CAP_MS,
      ),
    ).toEqual({
      inputs: { a: 1 },
      args: ['x'],
      env: { A: 'b' },
      runtime: 'v8',
      timeoutMs: 100,
      deterministic: true,
    });
    expect(parseRunRequest({ inputs: null }, CAP_MS)).toEqual(expect.objectContaining({ inputs: null }));
    // Every optional field sent as null is left out (generated clients send one for each field unset).
    const nulls = { args: null, env: null, runtime: null, timeout_ms: null, deterministic: null };
    expect(parseRunRequest({ inputs: 1, ...nulls }, CAP_MS)).toEqual({
      inputs: 1,
      args: undefined,
      env: undefined,
      runtime: undefined,
      timeoutMs: undefined,
      deterministic: undefined,
    });
  });

  it('refuses a body that is not an object, unknown fields (own `__proto__` included) and missing inputs', () => {
    expect(refusedField([])).toBe('body');
    expect(refusedField(null)).toBe('body');
    expect(refusedField(Buffer.from('{}'))).toBe('body');
    expect(refusedField({ inputs: 1, timeoutMs: 5 })).toBe('timeoutMs');
    expect(refusedField(JSON.parse('{"inputs": 1, "__proto__": {}}'))).toBe('__proto__');
    expect(refusedField({ args: [] })).toBe('inputs');
  });

  it('names every bad value in field order, inputs by its deep-JSON path and rule', () => {
    expect(
      refusal({
        inputs: { list: [{ prototype: 1 }] },
        args: ['ok', 'a\0b'],
        env: { '9': 'x' },
        timeout_ms: CAP_MS + 1,
        runtime: 'jvm',
        deterministic: 'yes',
      }).map(({ field, message }) => `${field}: ${message}`),
    ).toEqual([
      'inputs.list[0].prototype: forbidden_key: key "prototype" is not allowed',
      'args[1]: must be a string of at most 256 characters without NUL',
      'env.9: must be NAME=string (no NUL, bounded length)',
      `timeout_ms: must be a whole number from 1 to ${CAP_MS} (WASM_TIMEOUT_SECS)`,
      'runtime: must be one of wasmer, v8',
      'deterministic: must be a boolean',
    ]);
  });

  it('takes the timeout cap it is given: the cap itself passes, one more does not', () => {
    expect(parseRunRequest({ inputs: 1, timeout_ms: CAP_MS }, CAP_MS).timeoutMs).toBe(CAP_MS);
    expect(refusedField({ inputs: 1, timeout_ms: CAP_MS + 1 })).toBe('timeout_ms');
    expect(refusedField({ inputs: 1, args: Array(65).fill('a') })).toBe('args');
  });
});
