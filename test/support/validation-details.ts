import { AppException, FieldError } from '../../src/common/errors/app.exception';
import { validateDto } from '../../src/common/validation/validate-dto';

/** The details of the 422 the shared validation pipe answers for `body` as a `dto`, or [] when it passes. */
export async function validationDetails(
  dto: Parameters<typeof validateDto>[0],
  body: object,
): Promise<FieldError[]> {
  try {
    await validateDto(dto, body);
  } catch (error) {
    if (!(error instanceof AppException)) throw error;
    expect({ status: error.getStatus(), code: error.code }).toEqual({
      status: 422,
      code: 'validation_error',
    });
    return error.extra.details as FieldError[];
  }
  return [];
}
