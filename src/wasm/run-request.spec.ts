import { AppException } from '../common/errors/app.exception';
import { parseRunRequest } from './run-request';

function refusedField(body: unknown): string {
  try {
    parseRunRequest(body);
  } catch (error) {
    if (!(error instanceof AppException)) throw error;
    return (error.extra.details as { field: string }[])[0].field;
  }
  throw new Error('accepted');
}

describe('parseRunRequest', () => {
  it('maps the body to a RunRequest, values untouched (WasmService checks them)', () => {
    expect(
      parseRunRequest({
        inputs: { a: 1 },
        args: ['x'],
        env: { A: 'b' },
        runtime: 'v8',
        timeout_ms: 100,
        deterministic: true,
      }),
    ).toEqual({
      inputs: { a: 1 },
      args: ['x'],
      env: { A: 'b' },
      runtime: 'v8',
      timeoutMs: 100,
      deterministic: true,
    });
    expect(parseRunRequest({ inputs: null })).toEqual(expect.objectContaining({ inputs: null }));
  });

  it('refuses a body that is not an object, unknown fields (own `__proto__` included) and missing inputs', () => {
    expect(refusedField([])).toBe('body');
    expect(refusedField(null)).toBe('body');
    expect(refusedField(Buffer.from('{}'))).toBe('body');
    expect(refusedField({ inputs: 1, timeoutMs: 5 })).toBe('timeoutMs');
    expect(refusedField(JSON.parse('{"inputs": 1, "__proto__": {}}'))).toBe('__proto__');
    expect(refusedField({ args: [] })).toBe('inputs');
  });
});
