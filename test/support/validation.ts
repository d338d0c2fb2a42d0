import { AppException } from '../../src/common/errors/app.exception';

export interface ValidationDetail {
  field: string;
  message: string;
}

/** A response as the tests hold it: `app.inject`'s (statusCode) or a fetch-based reply (status). */
export type HttpReply = { statusCode: number; json(): unknown } | { status: number; json(): unknown };

const statusOf = (res: HttpReply) => ('statusCode' in res ? res.statusCode : res.status);

function checkValidationError(
  status: number,
  code: unknown,
  details: unknown,
  field: string | undefined,
): ValidationDetail[] {
  const list = Array.isArray(details) ? (details as ValidationDetail[]) : [];
  // One object, so a failure shows status, code and field together.
  expect({ status, error: code, field: field === undefined ? undefined : list[0]?.field }).toEqual({
    status: 422,
    error: 'validation_error',
    field,
  });
  expect(list.length).toBeGreaterThan(0);
  for (const detail of list)
    expect(detail).toEqual({ field: expect.any(String), message: expect.any(String) });
  return list;
}

/**
 * Asserts a 422 `validation_error` whose body carries well-formed `details: [{field, message}]`; with `field`,
 * that the first detail (the one a client shows) names it. Returns the details for further checks.
 */
export function expect422(res: HttpReply, field?: string): ValidationDetail[] {
  const body = res.json() as { error?: unknown; details?: unknown };
  return checkValidationError(statusOf(res), body.error, body.details, field);
}

/** The same for a service call: it must reject with a 422 `validation_error` AppException. */
export async function expect422Thrown(
  promise: Promise<unknown>,
  field?: string,
): Promise<ValidationDetail[]> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppException);
  const e = error as AppException;
  return checkValidationError(e.getStatus(), e.code, e.extra.details, field);
}
