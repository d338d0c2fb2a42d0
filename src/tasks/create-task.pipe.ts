import { Injectable, PipeTransform } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { MAX_JSON_BODY_DEPTH } from '../common/http/body-parsers';
import { deepJsonFieldError, DeepJsonLimits } from '../common/validation/deep-json';
import { validateDto } from '../common/validation/validate-dto';
import { CreateTaskDto } from './dto/create-task.dto';

/** Only the forbidden keys (and non-JSON values): the DTO bounds every other field of the body. */
const KEYS_ONLY: DeepJsonLimits = Object.freeze({
  maxDepth: MAX_JSON_BODY_DEPTH,
  maxArrayItems: Infinity,
  maxObjectKeys: Infinity,
  maxKeyLength: Infinity,
  maxStringLength: Infinity,
});

/** `inputs` is checked under the full deep-JSON limits first; the scan of the whole body need not repeat it. */
const INPUTS = new Set(['inputs']);

/** A task body as CreateTaskDto validated it (typed apart from the class, so the global pipe skips it). */
export type CreateTaskRequest = Readonly<CreateTaskDto>;

/**
 * The task body, read raw (@RawJsonBody) as the run route's is: `inputs` gets the same deep-JSON check, so a
 * `__proto__`, `constructor` or `prototype` key is a 422 `forbidden_key` naming its path. Through the global
 * pipe those keys were deleted in silence (the task stored other inputs than were sent); anywhere else in the
 * body they are refused too, before the DTO validation copies the body (a copied `__proto__` key would set a
 * prototype).
 */
@Injectable()
export class CreateTaskPipe implements PipeTransform<unknown, Promise<CreateTaskRequest>> {
  async transform(body: unknown): Promise<CreateTaskRequest> {
    const inputs =
      typeof body === 'object' && body !== null && Object.hasOwn(body, 'inputs')
        ? (body as { inputs: unknown }).inputs
        : undefined;
    const problem =
      (inputs === undefined ? null : deepJsonFieldError(inputs, 'inputs')) ??
      deepJsonFieldError(body, '', KEYS_ONLY, INPUTS);
    if (problem) throw AppException.validation([problem]);
    return validateDto(CreateTaskDto, body);
  }
}
